//! Archive tests.
