// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "rcnn",
    products: [
        .executable(name: "rcnn", targets: ["rcnn"]),
        .library(name: "Detection", targets: ["Detection"]),
    ],
    // Exact versions: Package.resolved stays out of git (this machine's package mirror has its own
    // commit ids), so the pin here is what makes the container build what CI tested.
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", exact: "1.8.2"),
    ],
    targets: [
        // Layer 1: C interop.
        .systemLibrary(name: "COpenBLAS", pkgConfig: nil, providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Sources/CMalloc"),
        .target(
            name: "CImageCodec",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png")]
        ),
        // Inner loops compiled per instruction set (AVX-512, AVX2, baseline), chosen at load time.
        // No contraction into FMA, so every CPU computes the same result.
        .target(
            name: "CKernels",
            cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off"])]
        ),
        // Layer 2: tensors and ops.
        .target(
            name: "Tensor",
            dependencies: ["COpenBLAS", "CKernels"],
            swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]
        ),
        // Layer 3: images.
        .target(name: "Imaging", dependencies: ["CImageCodec"]),
        // Layer 4: detection. COCO (RLE masks, COCO evaluation) is family-agnostic and stands alone.
        .target(name: "COCO"),
        .target(name: "Detection", dependencies: ["Tensor", "Imaging", "COCO", "CKernels"]),
        // Layer 4b: PyTorch checkpoints (zip and legacy torch.save, a pickle reader that runs nothing)
        // read into the project's model files (`rcnn import`).
        .target(name: "TorchImport", dependencies: ["Detection"]),
        // Layer 5: HTTP/1.1 on sockets, knowing nothing about detection.
        .target(name: "HTTP"),
        // Layer 6: routes, request/response types, models, scheduling.
        .target(name: "Service", dependencies: ["Detection", "HTTP", "Imaging", "Tensor", "CMalloc"]),
        // Layer 7: the command-line tool.
        .executableTarget(
            name: "rcnn",
            dependencies: [
                "Detection", "Imaging", "Tensor", "COCO", "HTTP", "Service", "TorchImport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Test plumbing every test target shares: the repository root, the process runner, the
        // seeded generator and the prerequisite check (skip off CI, fail on CI). Foundation/XCTest only.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "TestSupport"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "TestSupport"]),
        .testTarget(name: "COCOTests", dependencies: ["COCO", "TestSupport"]),
        .testTarget(name: "DetectionTests", dependencies: ["Detection", "TestSupport"]),
        .testTarget(name: "HTTPTests", dependencies: ["HTTP", "TestSupport"]),
        .testTarget(name: "CLITests", dependencies: ["TestSupport"]),
        .testTarget(name: "SelectiveSearchTests", dependencies: ["Detection", "Imaging", "TestSupport"]),
        .testTarget(name: "ServiceTests", dependencies: ["Service", "HTTP", "Detection", "Imaging", "TestSupport"]),
        .testTarget(name: "ParityTests", dependencies: ["Detection", "TestSupport"]),
        .testTarget(name: "ImportTests", dependencies: ["TorchImport", "Detection", "TestSupport"]),
    ],
    swiftLanguageModes: [.v5]
)
