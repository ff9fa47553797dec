"""Builds the package with its gRPC stubs generated from the hub's contract.

The stubs are not committed: `pip install ./clients/python` compiles
`proto/spil/v1/*.proto` of this checkout with grpcio-tools, so the package
always speaks the contract it was built beside. The generated modules land
in `spil/v1/` (the contract's own package path), where their imports of one
another resolve.
"""

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
PROTO = HERE.parent.parent / "proto"


class BuildWithStubs(build_py):
    def run(self) -> None:
        super().run()
        import grpc_tools
        from grpc_tools import protoc

        if not (PROTO / "spil" / "v1").is_dir():
            raise RuntimeError(f"the contract is not at {PROTO}; build from a checkout of the hub")
        out = Path(self.build_lib)
        well_known = Path(grpc_tools.__file__).parent / "_proto"
        sources = sorted(
            str(path.relative_to(PROTO)) for path in (PROTO / "spil" / "v1").glob("*.proto")
        )
        status = protoc.main(
            [
                "grpc_tools.protoc",
                f"-I{PROTO}",
                f"-I{well_known}",
                f"--python_out={out}",
                f"--pyi_out={out}",
                f"--grpc_python_out={out}",
                *sources,
            ]
        )
        if status != 0:
            raise RuntimeError(f"protoc failed ({status}) on {sources}")
        (out / "spil" / "v1" / "__init__.py").write_text('"""Generated from spil/v1."""\n')


setup(cmdclass={"build_py": BuildWithStubs})
