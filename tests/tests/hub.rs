//! End-to-end tests: the real hub over real mTLS, one module per area.

mod hub {
    mod audit;
    mod availability;
    mod bad_input;
    mod compression;
    mod consultations;
    mod fuzz;
    mod holds;
    mod identity;
    mod insights;
    mod observability;
    mod placements;
    mod registry;
    mod replicas;
    mod restart;
    mod support;
    mod watch;
}
