// A reader for the safetensors format (huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
// then the tensor data, offsets relative to the end of the header. The file is mapped read-only and
// every tensor is checked (dtype known, shape sane, byte size = product(shape)·dtype size, range inside
// the data, no overlaps) before any is used, so a truncated, corrupt or wrong-model file is refused
// with an error naming the tensor instead of crashing a node at start or mid-request.
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Why a safetensors file was refused.
public struct SafeTensorsError: Error, Equatable, CustomStringConvertible {
    /// The kind of failure, for tests.
    public enum Code: String, Sendable {
        case cannotOpen, truncated, headerTooLarge, badHeader, badTensor, missingTensor, wrongDType, wrongShape
    }

    /// What went wrong.
    public var code: Code
    /// The tensor concerned, when there is one.
    public var tensor: String?
    /// A sentence for people.
    public var message: String

    /// Makes an error.
    public init(_ code: Code, tensor: String? = nil, _ message: String) {
        self.code = code
        self.tensor = tensor
        self.message = message
    }

    public var description: String { self.message }
}

/// Element types of the format.
public enum SafeTensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8"
    case u8 = "U8", bool = "BOOL"

    /// Bytes per element.
    public var byteSize: Int {
        switch self {
        case .f64, .i64: return 8
        case .f32, .i32: return 4
        case .f16, .bf16, .i16: return 2
        case .i8, .u8, .bool: return 1
        }
    }
}

/// One tensor's entry in the header, validated.
public struct SafeTensorInfo: Sendable, Equatable {
    /// The tensor's name.
    public let name: String
    /// Its element type.
    public let dtype: SafeTensorsDType
    /// Its shape (row-major).
    public let shape: [Int]
    /// Its bytes, as offsets into the whole file.
    public let byteRange: Range<Int>
}

/// A memory-mapped, validated safetensors file. Immutable after `init`; unmapped on deinit.
public final class SafeTensorsFile: @unchecked Sendable {
    /// Header lengths above this are refused (this model's header is 11 KB).
    public static let maxHeaderBytes = 16 << 20

    /// Every tensor of the file, by name.
    public let tensors: [String: SafeTensorInfo]
    /// Size of the file in bytes.
    public let fileSize: Int
    private let base: UnsafeMutableRawPointer?

    /// Maps and validates the file at `path`.
    public init(path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw SafeTensorsError(.cannotOpen, "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw SafeTensorsError(.cannotOpen, "cannot stat \(path)") }
        let size = Int(st.st_size)
        guard size >= 8 else { throw SafeTensorsError(.truncated, "\(path): \(size) bytes, shorter than the 8-byte header length") }
        guard let map = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), map != MAP_FAILED else {
            throw SafeTensorsError(.cannotOpen, "cannot map \(path)")
        }
        do {
            self.tensors = try Self.validate(UnsafeRawBufferPointer(start: map, count: size), path: path)
        } catch {
            munmap(map, size)
            throw error
        }
        self.base = map
        self.fileSize = size
    }

    deinit {
        if let base = self.base { munmap(base, self.fileSize) }
    }

    /// The float32 tensor `name`, checked to have exactly `shape`.
    public func float32(_ name: String, shape: [Int]) throws -> UnsafeBufferPointer<Float> {
        guard let info = self.tensors[name] else { throw SafeTensorsError(.missingTensor, tensor: name, "tensor \(name) is missing") }
        guard info.dtype == .f32 else {
            throw SafeTensorsError(.wrongDType, tensor: name, "tensor \(name) is \(info.dtype.rawValue), expected F32")
        }
        guard info.shape == shape else {
            throw SafeTensorsError(.wrongShape, tensor: name, "tensor \(name) has shape \(info.shape), expected \(shape)")
        }
        let start = self.base!.advanced(by: info.byteRange.lowerBound).assumingMemoryBound(to: Float.self)
        return UnsafeBufferPointer(start: start, count: info.byteRange.count / 4)
    }

    /// The whole file's bytes.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: self.base, count: self.fileSize))
    }

    /// Tells the kernel the pages of `name`'s bytes are no longer needed (after they were quantized), so
    /// they stop counting toward resident memory. Later reads fault them back in from the file.
    public func releasePages(of name: String) {
        guard let info = self.tensors[name], let base = self.base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        // Only whole pages inside the tensor: a page shared with a neighbour may still be needed.
        let lower = (info.byteRange.lowerBound + page - 1) / page * page
        let upper = info.byteRange.upperBound / page * page
        if upper > lower { madvise(base.advanced(by: lower), upper - lower, MADV_DONTNEED) }
    }

    /// Releases the pages of the whole file (see `releasePages(of:)`).
    public func releasePages() {
        if let base = self.base { madvise(base, self.fileSize, MADV_DONTNEED) }
    }
}
