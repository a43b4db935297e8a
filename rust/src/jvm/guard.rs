//! The one path from Rust errors and panics to Java exceptions.

use super::ids;
use crate::error::{contain_panic, Error};
use jni::objects::JClass;
use jni::JNIEnv;

/// Runs the body of a JNI export. An `Err` becomes the matching Java exception, a panic an
/// `IllegalStateException`; in both cases the export returns `fallback`, which Java ignores
/// because an exception is pending.
pub fn guard<'local, T>(
    env: &mut JNIEnv<'local>,
    fallback: T,
    body: impl FnOnce(&mut JNIEnv<'local>) -> Result<T, Error>,
) -> T {
    let error = match contain_panic(|| body(env)) {
        Ok(value) => return value,
        Err(error) => error,
    };
    throw(env, &error);
    fallback
}

fn throw(env: &mut JNIEnv, error: &Error) {
    // A failed JNI call usually means a Java exception is already pending: let it through.
    if env.exception_check().unwrap_or(false) {
        return;
    }
    let thrown = match (error, ids::get()) {
        (Error::BudgetExhausted(_), Ok(ids)) => {
            let class: &JClass = ids.budget_exhausted.as_obj().into();
            env.throw_new(class, error.message())
        }
        _ => env.throw_new(error.java_class(), error.message()),
    };
    if let Err(e) = thrown {
        log::error!(
            "could not throw {}: {e} ({})",
            error.java_class(),
            error.message()
        );
    }
}
