//! Making the JVM collect when `System.gc()` is disabled.
//!
//! First JVMTI `ForceGarbageCollection`, which G1, Parallel, Serial and ZGC honour even under
//! `-XX:+DisableExplicitGC`. Shenandoah treats it as an explicit request and ignores it, so a
//! canary tells whether a collection really happened: a JNI weak reference to a fresh object,
//! cleared by any collection that finds the object unreachable. If it survives the forced
//! collection, garbage arrays allocated on the Java heap push the collector into a cycle of its
//! own, the one trigger every collector reacts to, until the canary is cleared or the reclaimer
//! thread starts giving memory back (on Shenandoah the canary has been seen to outlive several cycles).

use crate::reclaim::{Collection, Collector};
use jni::objects::WeakRef;
use jni::JNIEnv;
use once_cell::sync::OnceCell;
use std::ffi::c_void;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const JVMTI_VERSION_1_2: i32 = 0x3001_0200;
/// Zero-based slot of ForceGarbageCollection in `jvmtiInterface_1` (function 108 in the spec).
const FORCE_GARBAGE_COLLECTION_SLOT: usize = 107;
/// Below the smallest heap region of Shenandoah (256 KiB) and G1 (1 MiB): a humongous array
/// needs contiguous free regions, and on a fragmented heap could throw OutOfMemoryError (which
/// -XX:+ExitOnOutOfMemoryError turns into an exit) where the program's own objects still fit.
const PRESSURE_ARRAY_BYTES: i32 = 64 << 10;
/// Arrays between two looks at the canary and the reclaimer: 1 MiB of pressure.
const PRESSURE_ARRAYS_PER_LOOK: u64 = 16;
const PRESSURE_TIME_LIMIT: Duration = Duration::from_secs(10);

/// The Java heap's maximum, set by `Native.init`: bounds how much garbage pressure allocates.
static MAX_HEAP: AtomicU64 = AtomicU64::new(1 << 30);

pub fn set_max_heap(bytes: u64) {
    MAX_HEAP.store(bytes.max(64 << 20), Ordering::Relaxed);
}

/// A collector driven from the current Java thread.
pub struct JvmCollector<'a, 'local> {
    env: &'a mut JNIEnv<'local>,
    /// A counter that rises when the reclaimer thread frees memory.
    reclaimed: &'a dyn Fn() -> u64,
}

impl<'a, 'local> JvmCollector<'a, 'local> {
    pub fn new(env: &'a mut JNIEnv<'local>, reclaimed: &'a dyn Fn() -> u64) -> Self {
        JvmCollector { env, reclaimed }
    }

    fn canary(&mut self) -> Result<WeakRef, String> {
        let object = self
            .env
            .new_object("java/lang/Object", "()V", &[])
            .map_err(jni_failure)?;
        let weak = self.env.new_weak_ref(&object).map_err(jni_failure)?;
        self.env.delete_local_ref(object).map_err(jni_failure)?;
        weak.ok_or_else(|| "the canary object vanished before it was referenced".to_string())
    }

    fn collected(&self, canary: &WeakRef) -> Result<bool, String> {
        canary.is_garbage_collected(self.env).map_err(jni_failure)
    }

    /// Allocates garbage arrays until a collection shows, within bounds.
    fn apply_heap_pressure(&mut self, canary: &WeakRef) -> Result<bool, String> {
        let budget = MAX_HEAP.load(Ordering::Relaxed).saturating_mul(4);
        let reclaimed_before = (self.reclaimed)();
        let reclaimed = self.reclaimed;
        let env: &JNIEnv = self.env;
        let garbage = || {
            match env.new_byte_array(PRESSURE_ARRAY_BYTES) {
                Ok(array) => env.delete_local_ref(array).map(|_| Pressed::Allocated),
                Err(_) => {
                    let _ = env.exception_clear(); // the OutOfMemoryError of a full heap
                    Ok(Pressed::HeapFull)
                }
            }
            .map_err(jni_failure)
        };
        let shown = || {
            let collected = canary.is_garbage_collected(env).map_err(jni_failure)?;
            Ok(collected || reclaimed() != reclaimed_before)
        };
        press(budget, PRESSURE_TIME_LIMIT, garbage, shown)
    }
}

/// What allocating one garbage array did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pressed {
    Allocated,
    /// It threw OutOfMemoryError: the heap is full of live objects, most often after a full
    /// collection (on JDK 17-21, G1 and Parallel can also throw while JNI critical regions hold
    /// the collector off).
    HeapFull,
}

/// Allocates garbage arrays of `PRESSURE_ARRAY_BYTES` until `shown` says a collection showed,
/// looking once per `PRESSURE_ARRAYS_PER_LOOK`, up to `budget` bytes or `time_limit`. Stops at
/// the first full heap, looking once more: each more array there was another full collection
/// and another OutOfMemoryError that HotSpot reports (`-XX:+ExitOnOutOfMemoryError` exits at the
/// first, `-XX:OnOutOfMemoryError` runs its command at each).
fn press(
    budget: u64,
    time_limit: Duration,
    mut garbage: impl FnMut() -> Result<Pressed, String>,
    mut shown: impl FnMut() -> Result<bool, String>,
) -> Result<bool, String> {
    let started = Instant::now();
    let mut allocated = 0u64;
    while allocated < budget && started.elapsed() < time_limit {
        if garbage()? == Pressed::HeapFull {
            return shown();
        }
        allocated += PRESSURE_ARRAY_BYTES as u64;
        let look = allocated % (PRESSURE_ARRAYS_PER_LOOK * PRESSURE_ARRAY_BYTES as u64) == 0;
        if look && shown()? {
            return Ok(true);
        }
    }
    Ok(false)
}

impl Collector for JvmCollector<'_, '_> {
    fn collect(&mut self) -> Result<Collection, String> {
        let canary = self.canary()?;
        if let Some(jvmti) = jvmti_env(self.env) {
            // SAFETY: `jvmti` is a live jvmtiEnv from GetEnv and the slot is ForceGarbageCollection.
            let rc = unsafe { force_garbage_collection(jvmti) };
            if rc != 0 {
                // A warning the first time, at debug level after: it fails the same way at
                // every collection.
                static WARNED: AtomicBool = AtomicBool::new(false);
                if WARNED.swap(true, Ordering::Relaxed) {
                    log::debug!("JVMTI ForceGarbageCollection returned error {rc}");
                } else {
                    log::warn!(
                        "JVMTI ForceGarbageCollection returned error {rc} (further ones at debug \
                         level)"
                    );
                }
            }
            if self.collected(&canary)? {
                return Ok(Collection::Forced);
            }
            log::debug!("the collector ignored a forced collection; applying heap pressure");
        }
        if self.apply_heap_pressure(&canary)? {
            Ok(Collection::HeapPressure)
        } else {
            // Expected when nothing is garbage; on Shenandoah the canary can outlive cycles too.
            log::debug!("no collection confirmed after forcing one and applying heap pressure");
            Ok(Collection::Unconfirmed)
        }
    }
}

/// The JVMTI environment, fetched once and only when a collection is first needed (creating
/// one in the live phase has a small cost on JDK 21+). `None` if the JVM offers no JVMTI.
fn jvmti_env(env: &JNIEnv) -> Option<*mut c_void> {
    static JVMTI: OnceCell<usize> = OnceCell::new();
    let address = *JVMTI.get_or_init(|| {
        let Ok(vm) = env.get_java_vm() else { return 0 };
        let vm = vm.get_java_vm_pointer();
        let mut jvmti: *mut c_void = std::ptr::null_mut();
        // SAFETY: `vm` is the live JavaVM; GetEnv writes an environment pointer or fails.
        let rc = unsafe {
            match (**vm).GetEnv {
                Some(get_env) => get_env(vm, &mut jvmti, JVMTI_VERSION_1_2),
                None => -1,
            }
        };
        if rc != 0 || jvmti.is_null() {
            log::warn!("no JVMTI environment (GetEnv returned {rc}); relying on heap pressure");
            0
        } else {
            jvmti as usize
        }
    });
    (address != 0).then_some(address as *mut c_void)
}

/// # Safety
/// `jvmti` must be a valid `jvmtiEnv*`.
unsafe fn force_garbage_collection(jvmti: *mut c_void) -> u32 {
    type ForceGc = unsafe extern "system" fn(*mut c_void) -> u32;
    let functions = *(jvmti as *const *const *const c_void);
    let slot = *functions.add(FORCE_GARBAGE_COLLECTION_SLOT);
    if slot.is_null() {
        return u32::MAX;
    }
    let force: ForceGc = std::mem::transmute(slot);
    force(jvmti)
}

fn jni_failure(e: jni::errors::Error) -> String {
    format!("JNI call failed while collecting: {e}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ARRAY: u64 = PRESSURE_ARRAY_BYTES as u64;

    #[test]
    fn pressure_stops_at_the_first_full_heap_and_says_what_it_saw() {
        for collected in [true, false] {
            let (mut arrays, mut looks) = (0, 0);
            let pressed = press(
                1 << 30,
                Duration::from_secs(10),
                || {
                    arrays += 1;
                    Ok(if arrays == 3 {
                        Pressed::HeapFull
                    } else {
                        Pressed::Allocated
                    })
                },
                || {
                    looks += 1;
                    Ok(collected)
                },
            );
            assert_eq!(pressed, Ok(collected));
            assert_eq!(arrays, 3, "no array after the first OutOfMemoryError");
            assert_eq!(looks, 1);
        }
    }

    #[test]
    fn pressure_looks_once_per_mebibyte_and_stops_when_a_collection_shows() {
        let (mut arrays, mut looks) = (0u64, 0u64);
        let pressed = press(
            1 << 30,
            Duration::from_secs(10),
            || {
                arrays += 1;
                Ok(Pressed::Allocated)
            },
            || {
                looks += 1;
                Ok(looks == 3)
            },
        );
        assert_eq!(pressed, Ok(true));
        assert_eq!(arrays, 3 * PRESSURE_ARRAYS_PER_LOOK);
    }

    #[test]
    fn pressure_gives_up_at_its_budget_and_passes_errors_on() {
        let mut arrays = 0u64;
        let pressed = press(
            64 * ARRAY,
            Duration::from_secs(10),
            || {
                arrays += 1;
                Ok(Pressed::Allocated)
            },
            || Ok(false),
        );
        assert_eq!(pressed, Ok(false));
        assert_eq!(arrays, 64);
        let failed = press(
            64 * ARRAY,
            Duration::from_secs(10),
            || Err("JNI call failed".to_string()),
            || Ok(false),
        );
        assert_eq!(failed, Err("JNI call failed".to_string()));
    }
}
