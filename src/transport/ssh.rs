//! SSH transport (ssh2).
