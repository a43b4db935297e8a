//! The background threads. The early reclaimer, attached to the JVM, runs early collections,
//! so that allocating threads rarely find the budget full and stall on a collection themselves,
//! and gives kept freed blocks (see `reuse`, `last_freed`) back once they are idle, and malloc's
//! free memory to the OS once the program is quiet (see `heap_trim`). The zeroer thread,
//! never attached (so collections never wait for it), zeroes the kept blocks the reclaimer
//! freed before an allocating thread takes them, and helps takers zero large blocks.

use super::collector::JvmCollector;
use super::events;
use crate::error::contain_panic;
use crate::heap_trim::{Counters, HeapTrim, SPACING};
use crate::last_freed;
use crate::memory;
use crate::pool::Pool;
use crate::report::{ReportingCollector, Trigger};
use crate::reuse::{IDLE, REUSE};
use jni::sys::{JavaVMAttachArgs, JNI_VERSION_1_8};
use jni::{JNIEnv, JavaVM};
use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const EARLY_RECLAIMER: &CStr = c"directmem-early-reclaimer";

/// Starts the threads once; later calls do nothing.
pub fn start(vm: JavaVM, pool: &'static Pool) {
    static STARTED: std::sync::Once = std::sync::Once::new();
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name(EARLY_RECLAIMER.to_string_lossy().into_owned())
            .spawn(move || run(vm, pool));
        if let Err(e) = spawned {
            log::warn!(
                "no background reclaimer ({e}): collections start only when the budget is full"
            );
        }
        let spawned = std::thread::Builder::new()
            .name("directmem-zeroer".into())
            .spawn(zero_forever);
        if let Err(e) = spawned {
            log::warn!("no zeroer thread ({e}): allocating threads zero every reused block");
        }
    });
}

fn run(vm: JavaVM, pool: &'static Pool) {
    let mut env = match attach_named(&vm, EARLY_RECLAIMER) {
        Ok(env) => Some(env),
        Err(e) => {
            log::warn!(
                "the background reclaimer could not attach to the JVM ({e}): collections start \
                 only when the budget is full"
            );
            None
        }
    };
    let mut heap_trim = HeapTrim::new(IDLE, SPACING);
    loop {
        // Nothing may end this thread: it alone gives idle kept blocks back to the OS.
        let turn = catch_unwind(AssertUnwindSafe(|| match env.as_mut() {
            Some(env) => early_turn(env, pool, &mut heap_trim),
            None => {
                std::thread::sleep(IDLE);
                give_back_idle(pool, &mut heap_trim);
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

/// The zeroer thread's body. No panic is known to reach here (each block's zeroing catches its
/// own); should one, the thread goes on rather than leave takers to zero every block themselves.
fn zero_forever() {
    loop {
        if catch_unwind(|| REUSE.zero_forever()).is_err() {
            log::error!("the zeroer thread panicked; it goes on");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Gives idle kept blocks back (see `reuse` and `last_freed`), and malloc's free memory once
/// the program is quiet (see `heap_trim`), unless `-Ddirectmem.trimMalloc=false`.
fn give_back_idle(pool: &Pool, heap_trim: &mut HeapTrim) {
    REUSE.trim(IDLE);
    last_freed::trim(IDLE);
    if !memory::trims_malloc() {
        return;
    }
    // Capacities on both sides: the budget's `used` also holds pages and padding.
    let stats = pool.stats();
    let counters = Counters {
        given_back: stats.freed_bytes.saturating_add(stats.reclaimed_bytes),
        used: stats.ledger.capacity,
        to_malloc: memory::given_to_malloc(),
    };
    if heap_trim.look(counters) {
        let began = Instant::now();
        let trimmed = memory::trim_malloc_heaps();
        heap_trim.trimmed(began.elapsed());
        log::debug!(
            "quiet: malloc_trim took {:?}, gave memory back: {trimmed}",
            began.elapsed()
        );
    }
}

/// Waits for an early collection to be wanted (or an idle period to pass), gives idle memory
/// back, and runs the collection if one is wanted.
fn early_turn(env: &mut JNIEnv, pool: &'static Pool, heap_trim: &mut HeapTrim) {
    let wanted = pool.await_early_collection(IDLE);
    give_back_idle(pool, heap_trim);
    if !wanted {
        return;
    }
    // A local frame per collection: this thread never returns to Java to free local refs. A
    // panic comes back as an error, as jni-rs pops the frame only when its closure returns: left
    // to unwind through it, each panicking turn left a frame and its references behind.
    let collected = env.with_local_frame(16, |env| {
        contain_panic(|| {
            let reclaimed = || pool.reclaimed_bytes();
            let mut jvm = JvmCollector::new(env, &reclaimed);
            let mut collector = ReportingCollector::new(
                &mut jvm,
                &reclaimed,
                &super::exports::REPORTED_FREES,
                &events::report,
                Trigger::Early,
            );
            pool.collect_early(&mut collector)
        })
    });
    if let Err(e) = collected {
        // A warning the first time, at debug level after: a collector that keeps failing
        // logged one every 100 ms.
        static WARNED: AtomicBool = AtomicBool::new(false);
        if WARNED.swap(true, Ordering::Relaxed) {
            log::debug!("the background reclaimer: {}", e.message());
        } else {
            log::warn!(
                "the background reclaimer: {} (further ones at debug level)",
                e.message()
            );
        }
        let _ = env.exception_clear();
        // Do not spin on a failing collector: reserving threads still collect on their own.
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Attaches this thread to the JVM as a daemon under `name`. jni-rs attaches without one, and the
/// JVM then calls the thread Thread-N in thread dumps and JFR events (a later `setName` is too
/// late for JFR, which records the name at attachment).
fn attach_named<'vm>(vm: &'vm JavaVM, name: &CStr) -> jni::errors::Result<JNIEnv<'vm>> {
    let raw = vm.get_java_vm_pointer();
    let mut env: *mut c_void = std::ptr::null_mut();
    let mut args = JavaVMAttachArgs {
        version: JNI_VERSION_1_8,
        name: name.as_ptr() as *mut c_char,
        group: std::ptr::null_mut(),
    };
    // SAFETY: `raw` is the live JavaVM jni-rs holds; `args` and the name it points at outlive
    // the call, which copies the name.
    let code = unsafe {
        match (**raw).AttachCurrentThreadAsDaemon {
            Some(attach) => attach(
                raw,
                &mut env,
                &mut args as *mut JavaVMAttachArgs as *mut c_void,
            ),
            None => {
                return Err(jni::errors::Error::JNIEnvMethodNotFound(
                    "AttachCurrentThreadAsDaemon",
                ))
            }
        }
    };
    jni::errors::jni_error_code_to_result(code)?;
    // Attached now: jni-rs finds the thread's JNIEnv (and, as for any daemon, never detaches it).
    vm.get_env()
}
