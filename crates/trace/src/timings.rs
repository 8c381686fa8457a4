//! A connection's timings the way curl's `-w` names them, and an httpstat-style bar.
