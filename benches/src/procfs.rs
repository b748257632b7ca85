//! What `/proc` tells about a process: CPU time and resident memory.

use std::io;

/// CPU time of a process, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct CpuTime {
    /// In user space (`utime`, counted in clock ticks).
    pub user: f64,
    /// In the kernel on its behalf (`stime`, counted in clock ticks).
    pub system: f64,
    /// On a processor, to the nanosecond: the scheduler's run time of every thread
    /// (`/proc/<pid>/task/*/schedstat`), when the kernel keeps it. `utime` and `stime`
    /// are whole clock ticks (10 ms): over a turn of a quarter of a second, that is an
    /// error of several per cent.
    pub run: Option<f64>,
}

impl CpuTime {
    /// User plus system: the exact run time when there is one.
    pub fn total(self) -> f64 {
        self.run.unwrap_or(self.user + self.system)
    }

    /// The part of [`total`](Self::total) spent in user space, in the proportion of
    /// the ticks.
    pub fn user_part(self) -> f64 {
        let ticks = self.user + self.system;
        if ticks > 0.0 { self.total() * self.user / ticks } else { 0.0 }
    }

    /// The part of [`total`](Self::total) spent in the kernel.
    pub fn system_part(self) -> f64 {
        self.total() - self.user_part()
    }

    /// What was spent between `earlier` and `self`.
    pub fn since(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
            run: self.run.zip(earlier.run).map(|(now, then)| now - then),
        }
    }

    /// Adds what `spent` counts.
    pub fn add(&mut self, spent: CpuTime) {
        self.user += spent.user;
        self.system += spent.system;
        self.run = self.run.zip(spent.run).map(|(sum, run)| sum + run);
    }
}

/// CPU time of a process: `utime` and `stime` from `/proc/<pid>/stat`, and the exact run
/// time of its threads.
pub fn cpu_time(pid: u32) -> io::Result<CpuTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name, in parentheses, may hold spaces: fields are counted after it.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or_else(|| bad("stat"))?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 of proc(5) (utime, stime) are the 12th and 13th after the name.
    let seconds = |i: usize| {
        let ticks = fields.get(i).and_then(|f| f.parse::<u64>().ok()).ok_or_else(|| bad("stat"))?;
        Ok::<f64, io::Error>(ticks as f64 / clock_ticks() as f64)
    };
    Ok(CpuTime { user: seconds(11)?, system: seconds(12)?, run: run_time(pid) })
}

/// The run time of the threads of `pid` alive now, in seconds (the benchmark servers
/// and the load generator run one thread, so none has exited in between); `None` when
/// the kernel does not keep it.
fn run_time(pid: u32) -> Option<f64> {
    // The main thread's, first: where it cannot be read, no thread's can.
    let nanos = |path: std::path::PathBuf| -> Option<u64> {
        std::fs::read_to_string(path).ok()?.split_whitespace().next()?.parse().ok()
    };
    nanos(format!("/proc/{pid}/schedstat").into())?;
    let mut total = 0u64;
    for thread in std::fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        // A thread that ended since the directory was read counts for nothing.
        total += nanos(thread.path().join("schedstat")).unwrap_or(0);
    }
    Some(total as f64 / 1e9)
}

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// `VmRSS`: resident now.
    pub rss_kib: u64,
    /// `VmHWM`: the most ever resident.
    pub hwm_kib: u64,
}

/// Reads `VmRSS` and `VmHWM` from `/proc/<pid>/status`.
pub fn memory(pid: u32) -> io::Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .ok_or_else(|| bad(name))
    };
    Ok(Memory { rss_kib: field("VmRSS:")?, hwm_kib: field("VmHWM:")? })
}

/// `USER_HZ`, the unit of `/proc/<pid>/stat` times (100 on Linux but for Alpha).
fn clock_ticks() -> u64 {
    static TICKS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(100)
    })
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("unexpected /proc format ({what})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let pid = std::process::id();
        let cpu = cpu_time(pid).unwrap();
        assert!(cpu.total() > 0.0);
        assert!((cpu.user_part() + cpu.system_part() - cpu.total()).abs() < 1e-9);
        let memory = memory(pid).unwrap();
        assert!(memory.rss_kib > 0 && memory.hwm_kib >= memory.rss_kib);
    }
}
