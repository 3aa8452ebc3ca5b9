import CKernels
import Foundation

/// Makes OpenBLAS use kernels that match the CPU. OpenBLAS picks its kernel family once, when the
/// library loads (before `main`), from a table of CPUs it knows; a build older than the CPU falls
/// back to SSE-only "Prescott" kernels that run SGEMM at a fraction of the speed (Debian's 0.3.21 on
/// recent AVX-512 Xeons: ~50-60 GFLOP/s instead of 200-290 on two cores). OpenBLAS honours
/// `OPENBLAS_CORETYPE` at load time, so the command-line tool calls `ensureFastKernel()` first
/// thing and, when the loaded kernels are SSE-only on a CPU with AVX2 or AVX-512, sets it and
/// executes itself again (through /proc/self/exe; the two variables stay in the environment of
/// anything it starts). A user's own `OPENBLAS_CORETYPE` is always left alone.
public enum BLASKernelSelection {
    /// OpenBLAS kernel families without AVX2 (what it falls back to on CPUs it does not know).
    static let withoutAVX2: Set<String> = [
        "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge", "Katmai",
        "Coppermine", "Northwood", "Banias", "Opteron", "Opteron_SSE3", "Barcelona", "Bobcat",
        "Bulldozer", "Piledriver", "Steamroller", "Nano", "Generic", "Unknown",
    ]

    /// Set in the environment of the re-executed process: the kernel family OpenBLAS chose first.
    static let marker = "RCNN_BLAS_REEXEC"

    /// The kernel family to request instead of `current` on a CPU of `vectorLevel`
    /// (see `rcnn_cpu_vector_level`), or nil to keep it.
    public static func preferredCoreType(current: String, vectorLevel: Int) -> String? {
        guard withoutAVX2.contains(current) else { return nil }
        switch vectorLevel {
        case 3...: return "SkylakeX"
        case 2: return "Haswell"
        default: return nil
        }
    }

    /// This CPU's vector level (3 AVX-512, 2 AVX2 + FMA, 1 AVX, 0 SSE).
    public static var vectorLevel: Int { Int(rcnn_cpu_vector_level()) }

    /// Re-executes the process with `OPENBLAS_CORETYPE` set when OpenBLAS loaded kernels below
    /// what the CPU supports; returns when nothing needs changing (or the exec failed, which is
    /// reported on stderr and leaves the slower, still correct, kernels in place).
    /// `RCNN_BLAS_ASSUME_CORE` pretends OpenBLAS chose that family (for tests).
    public static func ensureFastKernel() {
        let env = ProcessInfo.processInfo.environment
        if env["OPENBLAS_CORETYPE"] != nil || env[marker] != nil { return }
        let current = env["RCNN_BLAS_ASSUME_CORE"] ?? BLAS.coreName
        guard let target = preferredCoreType(current: current, vectorLevel: vectorLevel) else { return }
        setenv("OPENBLAS_CORETYPE", target, 1)
        setenv(marker, current, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        let reason = String(cString: strerror(errno))
        FileHandle.standardError.write(Data("warning: OpenBLAS runs \(current) kernels on a CPU that supports \(target)'s, and re-executing with OPENBLAS_CORETYPE=\(target) failed (\(reason)); continuing with the slower kernels\n".utf8))
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(marker)
    }

    /// A note for logs when this process was re-executed to change the kernels, else nil. Says so
    /// when OpenBLAS did not take the request (a build without that kernel family).
    public static var note: String? {
        guard let first = ProcessInfo.processInfo.environment[marker],
              let chosen = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] else { return nil }
        if BLAS.coreName.lowercased() != chosen.lowercased() {
            return "OpenBLAS chose \(first) at load; rcnn requested OPENBLAS_CORETYPE=\(chosen), which this OpenBLAS did not take"
        }
        return "OpenBLAS chose \(first) at load; rcnn set OPENBLAS_CORETYPE=\(chosen) for this CPU"
    }
}
