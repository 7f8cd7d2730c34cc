//! Python bindings for pgbm (`import pgbm`). The functions arrive with a later issue;
//! for now the module exposes the version.

use pyo3::prelude::*;

/// The `pgbm._pgbm` extension module.
#[pymodule]
fn _pgbm(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
