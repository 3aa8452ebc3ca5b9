import ArgumentParser
import Service
import Tensor

@main
struct RCNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rcnn",
        abstract: "R-CNN family object detection: Faster R-CNN and Mask R-CNN with torchvision's results.",
        subcommands: [Serve.self, Detect.self, Evaluate.self, Bench.self, Proposals.self, Models.self, Import.self, Calibrate.self, Compare.self],
        defaultSubcommand: nil
    )

    static func main() {
        // Before anything else: if OpenBLAS loaded SSE-only kernels on an AVX2 / AVX-512 CPU,
        // re-execute with the right OPENBLAS_CORETYPE (see BLASKernelSelection).
        BLASKernelSelection.ensureFastKernel()
        // Freed activations stay in the heap for the next inference (see MemoryPolicy).
        MemoryPolicy.apply()
        main(nil)
    }
}
