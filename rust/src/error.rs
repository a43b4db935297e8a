//! The one error type, and the Java exception each kind becomes.

use crate::ledger::Underflow;

#[derive(Debug)]
pub enum Error {
    /// A caller passed something unusable: `IllegalArgumentException`.
    IllegalArgument(String),
    /// A caller passed null where an object is needed: `NullPointerException`.
    NullPointer(&'static str),
    /// The budget stayed full after reclamation: `dev.directmem.BudgetExhaustedError`, an
    /// `OutOfMemoryError` that Java extends with where the budget went.
    BudgetExhausted(String),
    /// The operating system refused memory (or the `failNextFree` test hook stands for a full
    /// Java heap): `OutOfMemoryError`.
    OutOfMemory(String),
    /// A broken invariant or an unusable JVM: `IllegalStateException`.
    IllegalState(String),
    /// A JNI call failed; a Java exception may already be pending.
    Jni(jni::errors::Error),
    /// Only from the test hook `Native.failNextFree`: stands for the `StackOverflowError` that
    /// any call at the bottom of a deep stack throws before it does anything.
    StackOverflowForTesting,
}

impl Error {
    /// The binary name of the Java exception class this error is thrown as.
    pub fn java_class(&self) -> &'static str {
        match self {
            Error::IllegalArgument(_) => "java/lang/IllegalArgumentException",
            Error::NullPointer(_) => "java/lang/NullPointerException",
            Error::BudgetExhausted(_) => "dev/directmem/BudgetExhaustedError",
            Error::OutOfMemory(_) => "java/lang/OutOfMemoryError",
            Error::IllegalState(_) | Error::Jni(_) => "java/lang/IllegalStateException",
            Error::StackOverflowForTesting => "java/lang/StackOverflowError",
        }
    }

    pub fn message(&self) -> String {
        match self {
            Error::IllegalArgument(m)
            | Error::BudgetExhausted(m)
            | Error::OutOfMemory(m)
            | Error::IllegalState(m) => m.clone(),
            Error::NullPointer(what) => (*what).to_string(),
            Error::Jni(e) => format!("directmem: JNI call failed: {e}"),
            Error::StackOverflowForTesting => "directmem: failNextFree test hook".to_string(),
        }
    }
}

impl From<jni::errors::Error> for Error {
    fn from(e: jni::errors::Error) -> Self {
        Error::Jni(e)
    }
}

impl From<Underflow> for Error {
    fn from(u: Underflow) -> Self {
        Error::IllegalState(format!(
            "directmem ledger underflow: releasing {} bytes (capacity {}) that were never \
             reserved; this is a bug, please report it",
            u.reservation.footprint, u.reservation.capacity
        ))
    }
}

/// `Err(NullPointer(what))` if `object` is null: checked before any JNI call takes it, as
/// HotSpot's field stores on null crash the JVM rather than throw.
pub fn non_null(object: &jni::objects::JObject, what: &'static str) -> Result<(), Error> {
    if object.is_null() {
        Err(Error::NullPointer(what))
    } else {
        Ok(())
    }
}

/// Runs `body`, turning a panic into an `IllegalState` error, so that a caller's cleanup after it
/// (an export's exception, a local frame's pop) happens as for any other error.
pub fn contain_panic<T>(body: impl FnOnce() -> Result<T, Error>) -> Result<T, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        Err(Error::IllegalState(format!(
            "directmem: native panic: {}",
            describe_panic(&*panic)
        )))
    })
}

/// A panic's message, for the error or log line it becomes.
pub fn describe_panic(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_contained_panic_is_an_illegal_state_error_with_its_message() {
        let panicked = contain_panic::<()>(|| panic!("planted {}", 42));
        match panicked {
            Err(e @ Error::IllegalState(_)) => {
                assert_eq!(e.message(), "directmem: native panic: planted 42")
            }
            other => panic!("not an IllegalState error: {other:?}"),
        }
        assert_eq!(contain_panic(|| Ok(7)).ok(), Some(7));
        let failed = contain_panic::<()>(|| Err(Error::IllegalArgument("bad".into())));
        assert!(matches!(failed, Err(Error::IllegalArgument(m)) if m == "bad"));
    }
}
