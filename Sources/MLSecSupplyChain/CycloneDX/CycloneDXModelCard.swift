// CycloneDXModelCard: the model card of a `machine-learning-model` component.

import MLSecCore

extension CycloneDX {
    /// A model card: how the model was built, how well it does, and what to consider before using it.
    public struct ModelCard: Sendable, Equatable {
        public var modelParameters: ModelParameters?
        public var performanceMetrics: [PerformanceMetric]
        public var considerations: Considerations?
        public var properties: [Property]

        public init(modelParameters: ModelParameters? = nil, performanceMetrics: [PerformanceMetric] = [],
                    considerations: Considerations? = nil, properties: [Property] = []) {
            self.modelParameters = modelParameters
            self.performanceMetrics = performanceMetrics
            self.considerations = considerations
            self.properties = properties
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = []
            if let modelParameters { members.append(("modelParameters", modelParameters.json)) }
            if !performanceMetrics.isEmpty {
                members.append(("quantitativeAnalysis", .object([("performanceMetrics", .array(performanceMetrics.map(\.json)))])))
            }
            if let considerations, !considerations.isEmpty { members.append(("considerations", considerations.json)) }
            members.append("properties", properties.map(\.json))
            return .object(members)
        }
    }

    /// The learning approach (`modelParameters.approach.type`).
    public enum LearningApproach: String, Sendable, CaseIterable {
        case supervised, unsupervised, semiSupervised = "semi-supervised", selfSupervised = "self-supervised"
        case reinforcementLearning = "reinforcement-learning"
    }

    /// How the model was constructed.
    public struct ModelParameters: Sendable, Equatable {
        public var approach: LearningApproach?
        /// `classification`, `regression`, ...
        public var task: String?
        /// `convolutional neural network`, `transformer`, ...
        public var architectureFamily: String?
        public var modelArchitecture: String?
        /// bom-refs of the `data` components the model was trained or evaluated on.
        public var datasetRefs: [String]
        /// Input and output formats (`image`, `string`, `tensor`, ...).
        public var inputs: [String]
        public var outputs: [String]

        public init(approach: LearningApproach? = nil, task: String? = nil, architectureFamily: String? = nil,
                    modelArchitecture: String? = nil, datasetRefs: [String] = [], inputs: [String] = [], outputs: [String] = []) {
            self.approach = approach
            self.task = task
            self.architectureFamily = architectureFamily
            self.modelArchitecture = modelArchitecture
            self.datasetRefs = datasetRefs
            self.inputs = inputs
            self.outputs = outputs
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = []
            if let approach { members.append(("approach", .object([("type", .string(approach.rawValue))]))) }
            members.append("task", task)
            members.append("architectureFamily", architectureFamily)
            members.append("modelArchitecture", modelArchitecture)
            members.append("datasets", datasetRefs.map { .object([("ref", .string($0))]) })
            members.append("inputs", inputs.map { .object([("format", .string($0))]) })
            members.append("outputs", outputs.map { .object([("format", .string($0))]) })
            return .object(members)
        }
    }

    /// One reported metric (values are text in CycloneDX).
    public struct PerformanceMetric: Sendable, Equatable {
        public var type: String
        public var value: String
        public var slice: String?

        public init(type: String, value: String, slice: String? = nil) {
            self.type = type
            self.value = value
            self.slice = slice
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("type", .string(type)), ("value", .string(value))]
            members.append("slice", slice)
            return .object(members)
        }
    }

    /// A risk and how it is addressed (`ethicalConsiderations` items).
    public struct Risk: Sendable, Equatable {
        public var name: String
        public var mitigationStrategy: String?

        public init(name: String, mitigationStrategy: String? = nil) {
            self.name = name
            self.mitigationStrategy = mitigationStrategy
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("name", .string(name))]
            members.append("mitigationStrategy", mitigationStrategy)
            return .object(members)
        }
    }

    /// What to take into account before using the model.
    public struct Considerations: Sendable, Equatable {
        public var users: [String]
        public var useCases: [String]
        public var technicalLimitations: [String]
        public var performanceTradeoffs: [String]
        public var ethicalConsiderations: [Risk]

        public init(users: [String] = [], useCases: [String] = [], technicalLimitations: [String] = [],
                    performanceTradeoffs: [String] = [], ethicalConsiderations: [Risk] = []) {
            self.users = users
            self.useCases = useCases
            self.technicalLimitations = technicalLimitations
            self.performanceTradeoffs = performanceTradeoffs
            self.ethicalConsiderations = ethicalConsiderations
        }

        public var isEmpty: Bool {
            users.isEmpty && useCases.isEmpty && technicalLimitations.isEmpty && performanceTradeoffs.isEmpty
                && ethicalConsiderations.isEmpty
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = []
            members.append("users", strings: users)
            members.append("useCases", strings: useCases)
            members.append("technicalLimitations", strings: technicalLimitations)
            members.append("performanceTradeoffs", strings: performanceTradeoffs)
            members.append("ethicalConsiderations", ethicalConsiderations.map(\.json))
            return .object(members)
        }
    }

    /// One `data` entry of a `data` component.
    public struct ComponentData: Sendable, Equatable {
        public enum Kind: String, Sendable {
            case dataset, configuration, definition, other
            case sourceCode = "source-code"
        }

        public var kind: Kind
        public var name: String?
        public var description: String?
        /// `contents.properties`.
        public var contentProperties: [Property]
        public var sensitiveData: [String]

        public init(_ kind: Kind, name: String? = nil, description: String? = nil, contentProperties: [Property] = [],
                    sensitiveData: [String] = []) {
            self.kind = kind
            self.name = name
            self.description = description
            self.contentProperties = contentProperties
            self.sensitiveData = sensitiveData
        }

        public var json: JSONValue {
            var members: [(String, JSONValue)] = [("type", .string(kind.rawValue))]
            members.append("name", name)
            if !contentProperties.isEmpty {
                members.append(("contents", .object([("properties", .array(contentProperties.map(\.json)))])))
            }
            members.append("sensitiveData", strings: sensitiveData)
            members.append("description", description)
            return .object(members)
        }
    }
}
