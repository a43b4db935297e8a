//! The one error type, and the Java exception each kind becomes.

use crate::ledger::Underflow;

#[derive(Debug)]
pub enum Error {
    /// A caller passed something unusable: `IllegalArgumentException`.
    IllegalArgument(String),
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
