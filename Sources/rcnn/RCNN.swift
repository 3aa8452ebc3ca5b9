import ArgumentParser

@main
struct RCNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rcnn",
        abstract: "R-CNN family object detection: Faster R-CNN and Mask R-CNN with torchvision's results.",
        subcommands: [Serve.self, Detect.self, Evaluate.self, Bench.self, Proposals.self, Models.self],
        defaultSubcommand: nil
    )
}
