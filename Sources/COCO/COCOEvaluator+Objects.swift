extension COCOEvaluator {
    /// The annotations of one dataset that take part in an evaluation, grouped by (category,
    /// image) in the order pycocotools' `COCOeval._prepare` groups them, with their masks
    /// rasterized once for mask evaluation.
    struct Objects {
        private let dataset: COCODataset
        /// Score of each annotation, by position in `dataset.annotations` (0 when absent).
        let scores: [Double]
        /// Mask of each selected annotation, by position (mask evaluation only).
        private(set) var masks: [RLE?]
        /// Positions of the selected annotations, bucket `category * imageCount + image`.
        private var buckets: [[Int]]
        private let imageCount: Int
        /// For evaluation across categories: bucket row of each entry of `categoryIDs`.
        private let categoryRows: [Int]

        /// Selects the annotations of `parameters.imageIDs` and `categoryIDs` (both resolved).
        /// `sizes` gives the image sizes polygons are rasterized to.
        init(_ dataset: COCODataset, sizes: COCODataset, parameters p: COCOEvalParameters) throws {
            self.dataset = dataset
            let imageIDs = p.imageIDs ?? [], categoryIDs = p.categoryIDs ?? []
            imageCount = imageIDs.count
            var imagePosition: [Int: Int] = [:]
            for (i, id) in imageIDs.enumerated() { imagePosition[id] = i }
            var categoryRow: [Int: Int] = [:]
            for (k, id) in categoryIDs.enumerated() where categoryRow[id] == nil { categoryRow[id] = k }
            categoryRows = categoryIDs.map { categoryRow[$0]! }
            scores = dataset.annotations.map { $0.score ?? 0 }
            masks = []
            buckets = [[Int]](repeating: [], count: categoryRow.count * imageIDs.count)

            // COCO.getAnnIds(imgIds, catIds): image by image in evaluation order, file order
            // within an image; then loadAnns looks each up again by id.
            var byImage = [[Int]](repeating: [], count: imageIDs.count)
            for (position, annotation) in dataset.annotations.enumerated() {
                guard let i = imagePosition[annotation.imageID], categoryRow[annotation.categoryID] != nil
                else { continue }
                byImage[i].append(position)
            }
            var selected: [Int] = []
            for positions in byImage {
                for position in positions {
                    let chosen = dataset.annotationPositions[dataset.annotations[position].id] ?? position
                    let annotation = dataset.annotations[chosen]
                    guard let i = imagePosition[annotation.imageID], let k = categoryRow[annotation.categoryID]
                    else { continue }
                    buckets[k * imageCount + i].append(chosen)
                    selected.append(chosen)
                }
            }
            if p.iouType == .segm {
                masks = [RLE?](repeating: nil, count: dataset.annotations.count)
                for position in selected where masks[position] == nil {
                    masks[position] = try Self.mask(dataset.annotations[position], sizes: sizes)
                }
            }
        }

        /// `COCO.annToRLE`.
        private static func mask(_ annotation: COCOAnnotation, sizes: COCODataset) throws -> RLE {
            guard let segmentation = annotation.segmentation else {
                throw COCOError.missingField(annotationID: annotation.id, field: "segmentation")
            }
            if case .rle(let rle) = segmentation { return rle }
            guard let image = sizes.image(id: annotation.imageID) else {
                throw COCOError.unknownImage(imageID: annotation.imageID)
            }
            return segmentation.rle(imageHeight: image.height, imageWidth: image.width)
        }

        /// Positions of the annotations of category row `k` on image `i`; across categories
        /// (`k` is 0), those of every category in `categoryIDs` order.
        func members(category k: Int, image i: Int, parameters p: COCOEvalParameters) -> [Int] {
            if p.useCategories { return buckets[k * imageCount + i] }
            return categoryRows.flatMap { buckets[$0 * imageCount + i] }
        }

        /// The annotation at a position.
        func annotation(_ position: Int) -> COCOAnnotation { dataset.annotations[position] }

        /// The box of the annotation at a position.
        func box(_ position: Int) throws -> COCOBox {
            let annotation = dataset.annotations[position]
            guard let box = annotation.bbox else { throw COCOError.missingField(annotationID: annotation.id, field: "bbox") }
            return box
        }
    }
}
