//! Throwaway local test hosts.
