//! Reclamation reports into Java: one cached static upcall, `Events.reclaimed`, which commits a
//! JFR event when a recording wants it. Works from any thread: a thread the JVM does not know
//! yet (a background collector) is attached as a daemon first.

use crate::error::Error;
use crate::reclaim::Collection;
use crate::report::{Reclamation, Trigger};
use jni::objects::{GlobalRef, JClass, JStaticMethodID};
use jni::signature::{Primitive, ReturnType};
use jni::sys::jvalue;
use jni::{JNIEnv, JavaVM};
use once_cell::sync::OnceCell;
use std::sync::atomic::{AtomicU32, Ordering};

/// Failures of the JFR upcall printed with their stack traces.
const DESCRIBED_FAILURES: u32 = 5;

struct Upcall {
    vm: JavaVM,
    events: GlobalRef,
    reclaimed: JStaticMethodID,
}

static UPCALL: OnceCell<Upcall> = OnceCell::new();

/// Looks up `Events.reclaimed` once, from a Java thread (so with the library's class loader).
pub fn init(env: &mut JNIEnv) -> Result<(), Error> {
    UPCALL.get_or_try_init(|| {
        let class = env.find_class("dev/directmem/Events")?;
        // Order and types shared with Events.reclaimed.
        let reclaimed = env.get_static_method_id(&class, "reclaimed", "(JJJIIJ)V")?;
        Ok::<_, Error>(Upcall {
            vm: env.get_java_vm()?,
            events: env.new_global_ref(class)?,
            reclaimed,
        })
    })?;
    Ok(())
}

/// Hands one reclamation to Java. Never fails: a report that cannot be delivered is logged.
pub fn report(r: &Reclamation) {
    let Some(upcall) = UPCALL.get() else { return };
    if let Err(e) = deliver(upcall, r) {
        log::warn!("could not report a reclamation to Java: {e}");
    }
}

fn deliver(upcall: &Upcall, r: &Reclamation) -> Result<(), jni::errors::Error> {
    let mut env = upcall.vm.attach_current_thread_as_daemon()?;
    if env.exception_check()? {
        return Ok(()); // an exception is on its way to Java: calling in now is not allowed
    }
    // (trigger, requested bytes): codes shared with Events.TRIGGERS.
    let (trigger, requested) = match r.trigger {
        Trigger::RefusedAllocation { requested } => (0, requested),
        Trigger::Early => (1, 0),
    };
    let collection = match r.collection {
        Collection::Forced => 0,
        Collection::HeapPressure => 1,
        Collection::Unconfirmed => 2,
    };
    let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    let args = [
        jvalue {
            j: nanos(r.collection_time),
        },
        jvalue {
            j: nanos(r.duration),
        },
        jvalue {
            j: i64::try_from(r.bytes_freed).unwrap_or(i64::MAX),
        },
        jvalue { i: collection },
        jvalue { i: trigger },
        jvalue {
            j: i64::try_from(requested).unwrap_or(i64::MAX),
        },
    ];
    let class: &JClass = upcall.events.as_obj().into();
    // SAFETY: the method ID belongs to this class and the arguments match "(JJJIIJ)V".
    let result = unsafe {
        env.call_static_method_unchecked(
            class,
            upcall.reclaimed,
            ReturnType::Primitive(Primitive::Void),
            &args,
        )
    };
    if env.exception_check()? {
        // A failing event must not become the allocating thread's exception. Stack traces of
        // the first few only (a passing stack overflow may take one): one that keeps failing
        // printed one per collection.
        static DESCRIBED: AtomicU32 = AtomicU32::new(0);
        if DESCRIBED.fetch_add(1, Ordering::Relaxed) < DESCRIBED_FAILURES {
            log::warn!(
                "a JFR Reclamation event failed (stack trace below; after {DESCRIBED_FAILURES}, \
                 at debug level)"
            );
            env.exception_describe()?;
        } else {
            log::debug!("a JFR Reclamation event failed again");
        }
        env.exception_clear()?;
        // Handled: jni-rs also returns the call's outcome as Err(JavaException), which must not
        // reach `report` (before, it logged a warning at every collection, past the five above).
        return Ok(());
    }
    result.map(|_| ())
}
