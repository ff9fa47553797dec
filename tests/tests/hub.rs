//! End-to-end tests: the real hub over real mTLS, one module per area.

mod hub {
    mod bad_input;
    mod holds;
    mod identity;
    mod registry;
    mod replicas;
    mod restart;
    mod support;
    mod watch;
}
