//! Not built yet: see the README.
