//! The background threads. The early reclaimer, attached to the JVM, runs early collections,
//! so that allocating threads rarely find the budget full and stall on a collection themselves,
//! and gives kept freed blocks (see `reuse`) back to the OS once they are idle. The zeroer thread,
//! never attached (so collections never wait for it), zeroes the kept blocks the reclaimer
//! freed before an allocating thread takes them, and helps takers zero large blocks.

use super::collector::JvmCollector;
use super::events;
use crate::pool::Pool;
use crate::report::{ReportingCollector, Trigger};
use crate::reuse::{IDLE, REUSE};
use jni::{JNIEnv, JavaVM};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Duration;

const EARLY_RECLAIMER: &str = "directmem-early-reclaimer";

/// Starts the threads once; later calls do nothing.
pub fn start(vm: JavaVM, pool: &'static Pool) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name(EARLY_RECLAIMER.into())
            .spawn(move || run(vm, pool));
        if let Err(e) = spawned {
            log::warn!(
                "no background reclaimer ({e}): collections start only when the budget is full"
            );
        }
        let spawned = std::thread::Builder::new()
            .name("directmem-zeroer".into())
            .spawn(|| REUSE.zero_forever());
        if let Err(e) = spawned {
            log::warn!("no zeroer thread ({e}): allocating threads zero every reused block");
        }
    });
}

fn run(vm: JavaVM, pool: &'static Pool) {
    let mut env = match vm.attach_current_thread_as_daemon() {
        Ok(env) => Some(env),
        Err(e) => {
            log::warn!(
                "the background reclaimer could not attach to the JVM ({e}): collections start \
                 only when the budget is full"
            );
            None
        }
    };
    if let Some(env) = env.as_mut() {
        // Attached without a name, the JVM calls it Thread-N in thread dumps and JFR events.
        if let Err(e) = env.with_local_frame(4, |env| name_java_thread(env, EARLY_RECLAIMER)) {
            log::warn!("could not name the background reclaimer's Java thread: {e}");
            let _ = env.exception_clear();
        }
    }
    loop {
        // Nothing may end this thread: it alone gives idle kept blocks back to the OS.
        let turn = catch_unwind(AssertUnwindSafe(|| match env.as_mut() {
            Some(env) => early_turn(env, pool),
            None => {
                std::thread::sleep(IDLE);
                REUSE.trim(IDLE);
            }
        }));
        if turn.is_err() {
            log::error!("the background reclaimer panicked; it goes on");
            if let Some(env) = env.as_mut() {
                let _ = env.exception_clear();
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Waits for an early collection to be wanted (or an idle period to pass), trims the kept
/// blocks, and runs the collection if one is wanted.
fn early_turn(env: &mut JNIEnv, pool: &'static Pool) {
    let wanted = pool.await_early_collection(IDLE);
    REUSE.trim(IDLE);
    if !wanted {
        return;
    }
    // A local frame per collection: this thread never returns to Java to free local refs.
    let collected = env.with_local_frame(16, |env| {
        let reclaimed = || pool.reclaimed_bytes();
        let mut jvm = JvmCollector::new(env, &reclaimed);
        let mut collector =
            ReportingCollector::new(&mut jvm, &reclaimed, &events::report, Trigger::Early);
        pool.collect_early(&mut collector)
    });
    if let Err(e) = collected {
        log::warn!("early collection failed: {}", e.message());
        let _ = env.exception_clear();
        // Do not spin on a failing collector: reserving threads still collect on their own.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `Thread.currentThread().setName(name)`.
fn name_java_thread(env: &mut JNIEnv, name: &str) -> jni::errors::Result<()> {
    let thread = env
        .call_static_method(
            "java/lang/Thread",
            "currentThread",
            "()Ljava/lang/Thread;",
            &[],
        )?
        .l()?;
    let name = env.new_string(name)?;
    env.call_method(
        &thread,
        "setName",
        "(Ljava/lang/String;)V",
        &[(&name).into()],
    )?;
    Ok(())
}
