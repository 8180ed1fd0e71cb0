import EmbServer
import Testing

@Suite struct PeerHandshakeTests {
    let mine = PeerHello(version: PeerProtocol.current, cluster: "prod", node: "n1", fingerprints: ["aa", "bb"])

    @Test func aHelloRoundTripsThroughItsFields() {
        let hello = PeerHello(fields: ["2", "prod", "n2", "cc", "dd"])
        #expect(hello == PeerHello(version: 2, cluster: "prod", node: "n2", fingerprints: ["cc", "dd"]))
        #expect(hello.flatMap { PeerHello(fields: $0.fields) } == hello)
        #expect(hello?.command.first == "PEER.HELLO")
        #expect(PeerHello(fields: ["2", "prod", "n2"])?.fingerprints == [])  // a node serving nothing yet
    }

    @Test func aMalformedHelloIsRefused() {
        #expect(PeerHello(fields: ["2", "prod"]) == nil)  // no node id
        #expect(PeerHello(fields: ["two", "prod", "n2"]) == nil)
        #expect(PeerHello(fields: ["0", "prod", "n2"]) == nil)
        #expect(PeerHello(fields: ["2", "prod", ""]) == nil)
    }

    @Test func theCommonVersionIsTheHighestBothSpeak() {
        #expect(PeerProtocol.common(theirs: 1) == 1)
        #expect(PeerProtocol.common(theirs: PeerProtocol.current) == PeerProtocol.current)
        #expect(PeerProtocol.common(theirs: 9) == PeerProtocol.current)  // a newer peer speaks ours
        #expect(PeerProtocol.common(theirs: 0) == nil)
    }

    @Test func theOwnerAnswersWithItsOwnHelloAtTheCommonVersion() throws {
        let theirs = PeerHello(version: 7, cluster: "prod", node: "n2", fingerprints: ["aa"])
        let answer = try PeerHandshake.answer(theirs, mine: mine).get()
        #expect(answer == PeerHello(version: PeerProtocol.current, cluster: "prod", node: "n1", fingerprints: ["aa", "bb"]))
    }

    @Test func aPeerOfAnotherClusterIsRefusedEitherWay() {
        let theirs = PeerHello(version: 2, cluster: "staging", node: "s1", fingerprints: ["aa"])
        #expect(throws: PeerRefusal.otherCluster(theirs: "staging", mine: "prod")) { try PeerHandshake.answer(theirs, mine: mine).get() }
        #expect(throws: PeerRefusal.otherCluster(theirs: "staging", mine: "prod")) { try PeerHandshake.accept(theirs, mine: mine).get() }
        let line = PeerRefusal.otherCluster(theirs: "staging", mine: "prod").description
        #expect(line.hasPrefix("PEERCLUSTER "))
        #expect(PeerRefusal(errorLine: line) != nil)
        #expect(PeerRefusal(errorLine: "ERR something else") == nil)
    }

    @Test func theAskerAcceptsTheCommonVersion() throws {
        #expect(try PeerHandshake.accept(PeerHello(version: 2, cluster: "prod", node: "n2", fingerprints: []), mine: mine).get() == 2)
        #expect(try PeerHandshake.accept(PeerHello(version: 1, cluster: "prod", node: "n2", fingerprints: []), mine: mine).get() == 1)
    }

    @Test func anOlderReleaseIsToldByItsUnknownCommandError() {
        #expect(PeerHandshake.isUnknownCommand("ERR unknown command 'PEER.HELLO', with args beginning with: '2'"))
        #expect(!PeerHandshake.isUnknownCommand("NOAUTH Authentication required."))
    }

    @Test func aVersionOnePeersFingerprintsComeFromItsInfo() {
        let info = "# Models\r\nmodel0:name=all-MiniLM-L6-v2,dimension=384,fingerprint=0123abcd,weight_bytes=9\r\n"
            + "model1:name=mpnet,dimension=768,fingerprint=ffee,ttl_seconds=3600\r\nmodels_weight_bytes:10\r\n\r\n"
        #expect(PeerHandshake.fingerprints(fromInfo: info) == ["0123abcd", "ffee"])
        #expect(PeerHandshake.fingerprints(fromInfo: "# Models\r\n") == [])
    }

    @Test func anOwnerServesOnlyTheFingerprintsOfItsLanes() {
        #expect(PeerHandshake.lane(serving: "bb", among: ["aa", "bb"]) == 1)
        #expect(PeerHandshake.lane(serving: "cc", among: ["aa", "bb"]) == nil)
        let line = PeerHandshake.modelMismatch("cc", node: "n1")
        #expect(PeerHandshake.isModelMismatch(line))
        #expect(line.contains("cc") && line.contains("n1"))
        #expect(!PeerHandshake.isModelMismatch("ERR unknown model"))
    }
}

/// An instant of the test's own: time moves only when the test says.
struct TestInstant: InstantProtocol {
    var offset: Duration
    func advanced(by duration: Duration) -> TestInstant { TestInstant(offset: self.offset + duration) }
    func duration(to other: TestInstant) -> Duration { other.offset - self.offset }
    static func < (a: TestInstant, b: TestInstant) -> Bool { a.offset < b.offset }
}

@Suite struct PeerHealthTests {
    typealias Health = PeerHealth<TestInstant>
    let t0 = TestInstant(offset: .zero)
    func at(_ ms: Int64) -> TestInstant { TestInstant(offset: .milliseconds(ms)) }

    @Test func aPeerNeverSeenIsRetriedSoonerThanOneThatFailed() {
        var never = Health(now: t0)
        #expect(never.status == .neverSeen && never.due(at: t0) && !never.routable)
        #expect(never.missed(at: t0, connectionRefused: true) == nil)  // still never seen, not "failed"
        #expect(!never.due(at: at(99)) && never.due(at: at(100)))

        var failed = Health(now: t0)
        failed.answered(at: t0)
        #expect(failed.missed(at: at(500), connectionRefused: true) == .failed)
        #expect(!failed.due(at: at(500 + 100)) && failed.due(at: at(500 + 500)))
        #expect(Health.neverSeenRetry < Health.failedRetry)
    }

    @Test func anUpPeerFailsAfterThreeSilentChecksOrOneRefusedConnection() {
        var h = Health(now: t0)
        #expect(h.answered(at: t0) == .up)
        #expect(h.routable)
        #expect(h.missed(at: at(500), connectionRefused: false) == nil)
        #expect(h.missed(at: at(1000), connectionRefused: false) == nil)
        #expect(h.missed(at: at(1500), connectionRefused: false) == .failed)
        #expect(!h.routable)
        #expect(h.answered(at: at(2000)) == .up)
        #expect(h.misses == 0)
        #expect(h.missed(at: at(2500), connectionRefused: true) == .failed)
    }

    @Test func anAnswerInBetweenResetsTheMisses() {
        var h = Health(now: t0)
        h.answered(at: t0)
        h.missed(at: at(500), connectionRefused: false)
        h.missed(at: at(1000), connectionRefused: false)
        #expect(h.answered(at: at(1500)) == nil)  // was up all along
        #expect(h.missed(at: at(2000), connectionRefused: false) == nil)
        #expect(h.status == .up)
    }

    @Test func aFailedForwardFailsAnUpPeerAtOnce() {
        var h = Health(now: t0)
        #expect(h.forwardFailed(at: t0) == nil)  // never seen: nothing to fail
        h.answered(at: t0)
        #expect(h.forwardFailed(at: at(10)) == .failed)
        #expect(h.forwardFailed(at: at(20)) == nil)
    }

    @Test func aRefusedPeerIsNeverRoutedAndRetriedRarely() {
        var h = Health(now: t0)
        #expect(h.refused(at: t0) == .refused)
        #expect(!h.routable)
        #expect(h.missed(at: t0, connectionRefused: true) == nil)
        #expect(!h.due(at: at(4999)) && h.due(at: at(5000)))
        #expect(h.viewed(at: t0, grace: .seconds(3)))
    }

    @Test func readinessWaitsForAnAnswerOrTheGrace() {
        var h = Health(now: t0)
        #expect(!h.viewed(at: at(2999), grace: .seconds(3)))
        #expect(h.viewed(at: at(3000), grace: .seconds(3)))  // a peer down at start does not block
        h.answered(at: at(100))
        #expect(h.viewed(at: at(100), grace: .seconds(3)))
        h.missed(at: at(600), connectionRefused: true)
        #expect(h.viewed(at: at(600), grace: .seconds(3)))  // failed after being seen: a view still
    }
}
