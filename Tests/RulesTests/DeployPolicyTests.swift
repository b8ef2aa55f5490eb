import Foundation
import Testing
import Yams

/// The shipped manifests keep the pod's network and admission policy tight: metrics ingress only from the
/// monitoring namespace, egress only DNS, Kafka and HTTPS, and the namespace enforces Pod Security `restricted`.
@Suite("deploy/kubernetes policy")
struct DeployPolicyTests {
    static func manifest(_ path: String) throws -> [String: Any] {
        let text = try String(contentsOfFile: DeployConfigTests.kubernetes + "/" + path, encoding: .utf8)
        return try #require(try Yams.load(yaml: text) as? [String: Any])
    }

    static func spec(_ path: String) throws -> [String: Any] {
        try #require(try manifest(path)["spec"] as? [String: Any])
    }

    static func ports(_ rule: [String: Any]) -> [Int] {
        (rule["ports"] as? [[String: Any]] ?? []).compactMap { $0["port"] as? Int }
    }

    static let allowedEgressPorts: Set<Int> = [53, 9092, 9093, 9094, 443]

    @Test("the namespace enforces, audits and warns Pod Security restricted")
    func podSecurity() throws {
        let metadata = try #require(try Self.manifest("base/namespace.yaml")["metadata"] as? [String: Any])
        let labels = try #require(metadata["labels"] as? [String: String])
        for mode in ["enforce", "audit", "warn"] {
            #expect(labels["pod-security.kubernetes.io/\(mode)"] == "restricted")
        }
    }

    @Test(
        "metrics ingress comes only from a monitoring namespace selector, base and production",
        arguments: [
            "base/networkpolicy.yaml", "overlays/production/networkpolicy-patch.yaml",
        ])
    func ingress(path: String) throws {
        let ingress = try #require(try Self.spec(path)["ingress"] as? [[String: Any]])
        #expect(ingress.count == 1)
        let rule = try #require(ingress.first)
        #expect(Self.ports(rule) == [9464])
        let from = try #require(rule["from"] as? [[String: Any]], "an ingress rule without 'from' admits every pod")
        #expect(from.count == 1)
        let selector = try #require(from.first?["namespaceSelector"] as? [String: Any])
        #expect(!(selector["matchLabels"] as? [String: Any] ?? [:]).isEmpty)
        #expect(from.first?["ipBlock"] == nil)
    }

    @Test(
        "egress allows only DNS to the cluster DNS, Kafka and HTTPS outside private ranges",
        arguments: [
            "base/networkpolicy.yaml", "overlays/production/networkpolicy-patch.yaml",
        ])
    func egress(path: String) throws {
        let egress = try #require(try Self.spec(path)["egress"] as? [[String: Any]])
        for rule in egress {
            let ports = Self.ports(rule)
            #expect(!ports.isEmpty, "an egress rule without ports opens every port")
            #expect(Set(ports).isSubset(of: Self.allowedEgressPorts), "\(ports)")
            if ports.contains(53) {
                let to = try #require(rule["to"] as? [[String: Any]], "DNS goes to the cluster DNS only")
                #expect(to.allSatisfy { $0["podSelector"] != nil && $0["namespaceSelector"] != nil })
            }
            if ports.contains(443) {
                let to = try #require(rule["to"] as? [[String: Any]])
                let blocks = to.compactMap { $0["ipBlock"] as? [String: Any] }
                #expect(blocks.count == to.count)
                for block in blocks {
                    let except = block["except"] as? [String] ?? []
                    #expect(except.contains("169.254.0.0/16"), "the cloud metadata address stays unreachable")
                    #expect(except.contains("10.0.0.0/8"))
                }
            }
        }
        #expect(egress.contains { Self.ports($0).contains(443) })
        #expect(egress.contains { Self.ports($0).contains(53) })
    }

    @Test("production narrows Kafka egress to the brokers' namespace and is applied by its kustomization")
    func production() throws {
        let egress = try #require(
            try Self.spec("overlays/production/networkpolicy-patch.yaml")["egress"] as? [[String: Any]])
        let kafka = try #require(egress.first { Self.ports($0).contains(9093) })
        #expect(kafka["to"] != nil)
        let kustomization = try Self.manifest("overlays/production/kustomization.yaml")
        let patches = kustomization["patches"] as? [[String: Any]] ?? []
        #expect(patches.contains { $0["path"] as? String == "networkpolicy-patch.yaml" })
    }

    @Test("the production overlay pins the image by digest")
    func imageByDigest() throws {
        let kustomization = try Self.manifest("overlays/production/kustomization.yaml")
        let images = try #require(kustomization["images"] as? [[String: Any]])
        // The base names the image (kustomization `images:` newName); the overlay pins that name by digest.
        let base = try #require(try Self.manifest("base/kustomization.yaml")["images"] as? [[String: Any]])
        let name = try #require(base.first?["newName"] as? String)
        let image = try #require(images.first { $0["name"] as? String == name }, "no digest for \(name)")
        let digest = try #require(image["digest"] as? String)
        #expect(digest.hasPrefix("sha256:") && digest.count == 71, "a sha256 digest, got \(digest)")
        #expect(image["newTag"] == nil, "a digest, not a tag")
    }
}
