// Entry points. With -DEMB_FUZZ (Scripts/fuzz builds with -sanitize=fuzzer,address) main hands over
// to libFuzzer's driver, which calls LLVMFuzzerTestOneInput; EMB_FUZZ_TARGET names the harness. (Not
// libFuzzer's own main: SwiftPM links an executable's main to this module's entry point.) Without
// it this is a replayer: `embcache-fuzz TARGET FILE|DIR...` runs every kept input through once.
import Foundation

#if EMB_FUZZ
private let target: Harness = {
    let name = ProcessInfo.processInfo.environment["EMB_FUZZ_TARGET"] ?? ""
    guard let harness = Harness(rawValue: name) else {
        fatalError("EMB_FUZZ_TARGET must be one of \(Harness.allCases.map(\.rawValue)), not '\(name)'")
    }
    return harness
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    target.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

/// libFuzzer's entry for programs that keep their own main (compiler-rt FuzzerInterface.h).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@main
enum Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
enum Replay {
    static func main() {
        let args = CommandLine.arguments.dropFirst()
        guard let name = args.first, let harness = Harness(rawValue: name) else {
            print("usage: embcache-fuzz \(Harness.allCases.map(\.rawValue).joined(separator: "|")) FILE|DIR...")
            exit(2)
        }
        var files: [String] = []
        for path in args.dropFirst() {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                files += ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        for file in files {
            let data = FileManager.default.contents(atPath: file) ?? Data()
            data.withUnsafeBytes { harness.run($0) }
        }
        print("\(name): \(files.count) inputs replayed, no property broken")
    }
}
#endif
