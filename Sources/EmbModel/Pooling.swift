// How token states become one vector: the sentence-transformers modules after the Transformer, read
// from modules.json and 1_Pooling/config.json as sentence-transformers writes them. The family's
// models differ here: all-MiniLM and e5/gte pool by mean, bge by the [CLS] row; most L2-normalize.
// Anything else (a Dense projection, weighted-mean or last-token pooling, several modes at once) is
// refused at load: serving it with the wrong pooling would cache wrong vectors under a right key.
import Foundation

/// Pooling and normalization of one model.
public struct Pooling: Sendable, Equatable, CustomStringConvertible {
    /// Which token rows make the vector.
    public enum Mode: String, Sendable {
        /// The first row ([CLS]).
        case cls
        /// The mean of every row (there is no padding: every row is a real token).
        case mean
        /// The per-dimension maximum over the rows.
        case max
    }

    /// The rows' reduction.
    public var mode: Mode = .mean
    /// Whether the vector is divided by its L2 norm (the Normalize module).
    public var normalize = true

    /// all-MiniLM-L6-v2's: mean, normalized.
    public static let meanNormalized = Pooling()

    public init(mode: Mode = .mean, normalize: Bool = true) {
        self.mode = mode
        self.normalize = normalize
    }

    public var description: String { "\(self.mode.rawValue)\(self.normalize ? "+normalize" : "")" }

    /// Reads modules.json and the pooling module's config.json in `directory`. A folder without
    /// modules.json is a plain Hugging Face model: mean pooling without normalization, as
    /// sentence-transformers loads it.
    public static func load(directory: String, hiddenSize: Int) throws -> Pooling {
        let modulesPath = directory + "/modules.json"
        guard FileManager.default.fileExists(atPath: modulesPath) else { return Pooling(mode: .mean, normalize: false) }
        guard let modules = try JSONFile.read(modulesPath) as? [[String: Any]] else {
            throw ModelError(.badConfig, "\(modulesPath) is not a JSON array of modules")
        }
        var pooling: Pooling? = nil
        var normalize = false
        for (index, module) in modules.enumerated() {
            let type = (module["type"] as? String) ?? "(no type)"
            let path = (module["path"] as? String) ?? ""
            switch type.split(separator: ".").last.map(String.init) {
            case "Transformer" where index == 0:
                continue
            case "Pooling" where index == 1:
                pooling = try Self.readPoolingConfig(directory + "/" + path + "/config.json", hiddenSize: hiddenSize)
            case "Normalize" where pooling != nil:
                normalize = true
            default:
                throw ModelError(.unsupportedModel, "modules.json: module \(index) \(type) (\(path.isEmpty ? "no path" : path)) is not supported: "
                                 + "embcache serves Transformer, Pooling and an optional Normalize, in that order")
            }
        }
        guard var result = pooling else {
            throw ModelError(.unsupportedModel, "modules.json has no Pooling module after the Transformer")
        }
        result.normalize = normalize
        return result
    }

    private static func readPoolingConfig(_ path: String, hiddenSize: Int) throws -> Pooling {
        guard let config = try JSONFile.read(path) as? [String: Any] else { throw ModelError(.badConfig, "\(path) is not a JSON object") }
        if let width = config["word_embedding_dimension"] as? Int, width != hiddenSize {
            throw ModelError(.badConfig, "\(path): word_embedding_dimension \(width) but config.json's hidden_size is \(hiddenSize)")
        }
        if let includePrompt = config["include_prompt"] as? Bool, !includePrompt {
            throw ModelError(.unsupportedModel, "\(path): include_prompt false (pooling that skips an instruction prefix) is not supported")
        }
        let supported: [(String, Mode)] = [("pooling_mode_cls_token", .cls), ("pooling_mode_mean_tokens", .mean), ("pooling_mode_max_tokens", .max)]
        let unsupported = ["pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"]
        for key in unsupported where (config[key] as? Bool) == true {
            throw ModelError(.unsupportedModel, "\(path): \(key) is not supported (embcache pools by cls, mean or max)")
        }
        let modes = supported.filter { (config[$0.0] as? Bool) == true }.map(\.1)
        guard modes.count == 1 else {
            throw ModelError(.unsupportedModel, "\(path): \(modes.isEmpty ? "no pooling mode" : "several pooling modes (\(modes.map(\.rawValue)))") set; "
                             + "embcache needs exactly one of cls, mean, max")
        }
        return Pooling(mode: modes[0], normalize: false)
    }

    /// The vector of one text's token rows (`count` rows of `width`), pooled and maybe normalized.
    /// Sums run in Double: the result does not depend on the order rows were added in.
    func pool(_ rows: UnsafePointer<Float>, count: Int, width: Int) -> [Float] {
        var v = [Double](repeating: 0, count: width)
        switch self.mode {
        case .cls:
            for i in 0..<width { v[i] = Double(rows[i]) }
        case .max:
            for i in 0..<width { v[i] = Double(rows[i]) }
            for r in 1..<max(count, 1) {
                for i in 0..<width { v[i] = max(v[i], Double(rows[r * width + i])) }
            }
        case .mean:
            for r in 0..<count {
                for i in 0..<width { v[i] += Double(rows[r * width + i]) }
            }
            // Normalization makes the division by the count redundant (and the vector bit-identical to
            // what embcache served before pooling was configurable).
            if !self.normalize { v = v.map { $0 / Double(count) } }
        }
        guard self.normalize else { return v.map(Float.init) }
        // sentence-transformers' Normalize: v / max(‖v‖, 1e-12).
        let norm = max(v.reduce(0) { $0 + $1 * $1 }.squareRoot(), 1e-12)
        return v.map { Float($0 / norm) }
    }
}

/// Reading the small JSON files of a model folder.
enum JSONFile {
    /// The parsed file; ModelError when it cannot be read or is not JSON.
    static func read(_ path: String) throws -> Any {
        guard let data = FileManager.default.contents(atPath: path) else { throw ModelError(.missingFile, "cannot read \(path)") }
        guard let object = try? JSONSerialization.jsonObject(with: data) else { throw ModelError(.badConfig, "\(path) is not valid JSON") }
        return object
    }

    /// The file as an object, or nil when it does not exist.
    static func object(_ path: String) throws -> [String: Any]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let object = try Self.read(path) as? [String: Any] else { throw ModelError(.badConfig, "\(path) is not a JSON object") }
        return object
    }
}
