//! Every word the people-facing pages say, in Dutch, in one place: the
//! board's texts, and the names of the hub's values (place types, reasons,
//! states) that the board and the council report both show. Another
//! language is another module of this shape. Values are named by their
//! variant, as the domain and the contract both spell them (`CrisisBed`),
//! so neither side's types are needed here.

pub mod nl;
