import Foundation
import Hummingbird
import Logging
import NIOCore
import ProximaAuth
import Synchronization

/// What the middlewares learn about a request on its way in, for the ones
/// on its way out (the request log) and for the routes (who is asking).
/// A reference, because contexts are values copied into each middleware.
public final class RequestFacts: Sendable {
    private struct State {
        var principal: Principal?
        var requestId = ""
    }

    private let state = Mutex(State())

    public init() {}

    /// Who the request acts for; nil until authentication (and on `/health`).
    public var principal: Principal? {
        get { state.withLock { $0.principal } }
        set { state.withLock { $0.principal = newValue } }
    }

    /// `X-Request-Id`, echoed or generated.
    public var requestId: String {
        get { state.withLock { $0.requestId } }
        set { state.withLock { $0.requestId = newValue } }
    }
}

/// A request context every transport provides: the client's address (for
/// per-address rate limits) and the facts the middlewares gather.
public protocol ProximaRequestContext: RequestContext {
    /// The caller's IP address, as the transport saw it.
    var clientAddress: String? { get }
    /// The id the transport already has for the request (a Lambda request id), if any.
    var transportRequestId: String? { get }
    var facts: RequestFacts { get }
}

/// The context of requests `serve` answers over a socket.
public struct ServerRequestContext: ProximaRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let facts = RequestFacts()

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
    }

    public var clientAddress: String? { remoteAddress?.ipAddress }
    public var transportRequestId: String? { nil }
}
