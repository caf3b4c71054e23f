//! Local transport: runs commands on this machine.
