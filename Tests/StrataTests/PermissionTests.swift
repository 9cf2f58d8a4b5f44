import Foundation
import Testing
@testable import Strata
import StrataTestSupport

/// Store files are private by default, and a store directory others can
/// tamper with is refused (SPEC.md §2).
@Suite struct PermissionTests {
    private func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! NSNumber).intValue
    }

    @Test func storeFilesAre0600AndDirectories0700() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.segmentTargetBytes = 4 << 10
        let store = try Store.open(at: path, options: o)
        try store.append(contentsOf: makeExamples(200))
        try store.close()
        #expect(try mode(path) == 0o700)
        var files = 0, dirs = 0
        for rel in FileManager.default.enumerator(atPath: path)!.allObjects as! [String] {
            let full = path + "/" + rel
            if FileManager.default.isDirectory(full) {
                dirs += 1
                let m = try mode(full)
                #expect(m == 0o700, "\(rel) has mode \(String(m, radix: 8))")
            } else {
                files += 1
                let m = try mode(full)
                #expect(m == 0o600, "\(rel) has mode \(String(m, radix: 8))")
            }
        }
        #expect(files > 3 && dirs >= 4)  // MANIFEST, LOCK, segments; domain and month directories
    }

    @Test func configuredModesAreApplied() throws {
        let path = temporaryStorePath()
        var o = StoreOptions()
        o.fileMode = 0o640
        o.directoryMode = 0o750
        let store = try Store.open(at: path, options: o)
        try store.append(makeExamples(1)[0])
        try store.close()
        #expect(try mode(path) == 0o750)
        #expect(try mode(path + "/MANIFEST") == 0o640)
    }

    @Test func worldWritableStoreDirectoryIsRefused() throws {
        let path = temporaryStorePath()
        try Store.open(at: path).close()
        chmod(path, 0o777)
        do {
            _ = try Store.open(at: path)
            Issue.record("a world-writable store was opened")
        } catch let e as StrataError {
            #expect(e.code == .permission)
            #expect(e.message.contains("world-writable") && e.message.contains("chmod o-w"), "\(e)")
            #expect(e.path == path)
        }
        // The documented escape hatch works.
        var o = StoreOptions()
        o.checkPermissions = false
        try Store.open(at: path, options: o).close()
    }

    @Test func storeOwnedByAnotherUserIsRefused() throws {
        let path = temporaryStorePath()
        try Store.open(at: path).close()
        if getuid() == 0 {
            // Real ownership change: possible only as root.
            #expect(chown(path, 54_321, 54_321) == 0)
        } else {
            // Not root: the same check through the simulated file system.
            let fs = SimulatedFileSystem()
            try fs.createDirectory("/sim/s", mode: 0o700)
            fs.setOwnerAndMode("/sim/s", uid: 54_321)
            var o = StoreOptions()
            o.fileSystem = fs
            #expect(throws: StrataError.self) { try Store.open(at: "/sim/s", options: o) }
            return
        }
        do {
            _ = try Store.open(at: path)
            Issue.record("a store owned by uid 54321 was opened by uid \(getuid())")
        } catch let e as StrataError {
            #expect(e.code == .permission)
            #expect(e.message.contains("owned by uid 54321"), "\(e)")
        }
    }

    @Test func unsafeStoreIsRefusedThroughTheFileSystemInterfaceToo() throws {
        let fs = SimulatedFileSystem()
        var o = StoreOptions()
        o.fileSystem = fs
        try Store.open(at: "/sim/s", options: o).close()
        fs.setOwnerAndMode("/sim/s", mode: 0o772)
        #expect { try Store.open(at: "/sim/s", options: o) } throws: { ($0 as? StrataError)?.code == .permission }
        fs.setOwnerAndMode("/sim/s", uid: getuid() &+ 1, mode: 0o700)
        #expect { try Store.open(at: "/sim/s", options: o) } throws: { ($0 as? StrataError)?.code == .permission }
    }
}
