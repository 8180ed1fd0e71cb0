// Header parsing and validation for SafeTensorsFile: every check the format allows, before any use.
import Foundation

extension SafeTensorsFile {
    /// The tensors a whole safetensors file (`file`: its bytes, at least 8) declares, or the first
    /// thing wrong with it. Public for the fuzz harness; `init(path:)` is how the node reads a model.
    public static func validate(_ file: UnsafeRawBufferPointer, path: String) throws -> [String: SafeTensorInfo] {
        let headerLength = file.loadUnaligned(as: UInt64.self).littleEndian
        guard headerLength <= UInt64(Self.maxHeaderBytes) else {
            throw SafeTensorsError(.headerTooLarge, "\(path): header of \(headerLength) bytes exceeds \(Self.maxHeaderBytes)")
        }
        guard Int(headerLength) <= file.count - 8 else {
            throw SafeTensorsError(.truncated, "\(path): header of \(headerLength) bytes but the file has \(file.count - 8) after the length")
        }
        let dataStart = 8 + Int(headerLength)
        let header = Data(file[8..<dataStart])
        guard let json = try? JSONSerialization.jsonObject(with: header) else {
            throw SafeTensorsError(.badHeader, "\(path): the header is not valid JSON")
        }
        guard let object = json as? [String: Any] else {
            throw SafeTensorsError(.badHeader, "\(path): the header is not a JSON object")
        }
        var tensors: [String: SafeTensorInfo] = [:]
        for (name, value) in object where name != "__metadata__" {
            let info = try Self.tensorInfo(name, value, dataStart: dataStart, fileSize: file.count)
            if info.dtype == .f32 && info.byteRange.lowerBound % 4 != 0 {
                throw SafeTensorsError(.badTensor, tensor: name, "tensor \(name): F32 data is not 4-byte aligned in the file")
            }
            tensors[name] = info
        }
        let sorted = tensors.values.sorted { $0.byteRange.lowerBound < $1.byteRange.lowerBound }
        for (a, b) in zip(sorted, sorted.dropFirst()) where a.byteRange.upperBound > b.byteRange.lowerBound {
            throw SafeTensorsError(.badTensor, tensor: b.name, "tensor \(b.name) overlaps tensor \(a.name)")
        }
        return tensors
    }

    private static func tensorInfo(_ name: String, _ value: Any, dataStart: Int, fileSize: Int) throws -> SafeTensorInfo {
        func bad(_ why: String) -> SafeTensorsError { SafeTensorsError(.badTensor, tensor: name, "tensor \(name): \(why)") }
        guard let entry = value as? [String: Any] else { throw bad("entry is not an object") }
        guard let dtypeName = entry["dtype"] as? String, let dtype = SafeTensorsDType(rawValue: dtypeName) else {
            throw bad("unknown dtype \(entry["dtype"].map { "\($0)" } ?? "(none)")")
        }
        guard let shapeValues = entry["shape"] as? [Any], let shape = Self.integers(shapeValues), shape.allSatisfy({ $0 >= 0 }) else {
            throw bad("shape must be a list of non-negative integers")
        }
        guard let offsetValues = entry["data_offsets"] as? [Any], let offsets = Self.integers(offsetValues), offsets.count == 2,
            offsets[0] >= 0, offsets[0] <= offsets[1]
        else { throw bad("data_offsets must be [begin, end] with 0 <= begin <= end") }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow else { throw bad("shape \(shape) overflows") }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.byteSize)
        guard !overflow, bytes == offsets[1] - offsets[0] else {
            throw bad("data_offsets span \(offsets[1] - offsets[0]) bytes but shape \(shape) of \(dtype.rawValue) needs \(bytes)")
        }
        guard offsets[1] <= fileSize - dataStart else {
            throw SafeTensorsError(
                .truncated, tensor: name, "tensor \(name): data ends at \(offsets[1]) but the file has \(fileSize - dataStart) data bytes")
        }
        return SafeTensorInfo(name: name, dtype: dtype, shape: shape, byteRange: (dataStart + offsets[0])..<(dataStart + offsets[1]))
    }

    /// JSON numbers that are exact integers (JSONSerialization gives NSNumber; 2.5 or "3" are refused).
    private static func integers(_ values: [Any]) -> [Int]? {
        var out: [Int] = []
        for v in values {
            guard let n = v as? NSNumber else { return nil }
            let d = n.doubleValue
            guard d.rounded() == d, abs(d) < 9e15 else { return nil }
            out.append(Int(d))
        }
        return out
    }
}
