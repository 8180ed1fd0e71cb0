// Which lane (model) a request's texts go to, decided the same way for RESP and HTTP: a model name
// or alias, optionally with an input type (NAME:query, NAME:passage, or HTTP's `input_type`), a
// RESP database number, or nothing (the default model). One place also words the refusal of an
// unknown name, so both doors tell a client the same thing.
import EmbNode

/// A model name no lane answers to; `message` lists the names that would work.
package struct UnknownModel: Error, Equatable, Sendable {
    package let name: String
    package let message: String
}

/// Model name / alias / input type / database number -> lane and prefix.
package struct LaneResolver: Sendable {
    package let catalog: ModelCatalog

    package init(_ catalog: ModelCatalog) { self.catalog = catalog }

    /// What a request that names no model gets.
    package var defaultSelection: ModelSelection { self.catalog.select(self.catalog.defaultLane.name)! }

    /// The lane `name` selects (a name or alias, optionally ":query" / ":passage").
    package func select(_ name: String) -> Result<ModelSelection, UnknownModel> {
        guard let selection = self.catalog.select(name) else { return .failure(self.unknown(name)) }
        return .success(selection)
    }

    /// A request's model and input type (query | passage | document, as Cohere's and Voyage's APIs
    /// name it): the type picks the model's prefix as NAME:query / NAME:passage do; a model without
    /// that prefix (or an unknown type) embeds the text as sent.
    package func resolve(model: String?, inputType: String?) -> Result<ModelSelection, UnknownModel> {
        let name = model ?? self.catalog.defaultLane.name
        return self.select(name).map { named in
            inputType.flatMap { self.catalog.select(named.lane.name + ":" + $0) } ?? named
        }
    }

    /// RESP `SELECT n`: the n-th model of the cluster file (0 = the default).
    package func database(_ n: Int) -> ModelSelection? {
        guard self.catalog.lanes.indices.contains(n) else { return nil }
        return self.catalog.select(self.catalog.lanes[n].name)
    }

    /// "0=name, 1=name, ..." for SELECT's refusal.
    package var databaseList: String { self.catalog.lanes.map { "\($0.index)=\($0.name)" }.joined(separator: ", ") }

    /// The lane named exactly `name` (peers forward under the canonical name).
    package func lane(named name: String) -> ModelLane? { self.catalog.lane(named: name) }

    /// The one refusal text of an unknown model, on every door.
    package func unknown(_ name: String) -> UnknownModel {
        UnknownModel(name: name, message: self.catalog.unknown(name))
    }
}
