//! synack trace.
