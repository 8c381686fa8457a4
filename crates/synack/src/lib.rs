//! synack runtime.
