import Foundation
import Hummingbird
import Logging
import HummingbirdCore
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
    /// Completes when the client hangs up: work for it can stop.
    func hangUp() async -> EventLoopFuture<Void>?
}

/// The context of requests `serve` answers over a socket.
public struct ServerRequestContext: ProximaRequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    public let facts = RequestFacts()
    let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }

    public func hangUp() async -> EventLoopFuture<Void>? {
        try? await channel.pipeline.handler(type: HangUpWatcher.self).map(\.hungUp).get()
    }

    public var clientAddress: String? { remoteAddress?.ipAddress }
    public var transportRequestId: String? { nil }
}

/// Notices a client closing its side of the connection while its request is
/// still being worked on. The server allows half-closed connections, so the
/// channel itself stays open until the answer is written; without this a
/// request whose client has gone keeps running to the end.
final class HangUpWatcher: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    // Parts pass through untouched: only events matter here.
    typealias InboundIn = Any
    typealias InboundOut = Any

    private var promise: EventLoopPromise<Void>?
    /// Completes once the client has closed its side (or the channel is gone).
    private(set) var hungUp: EventLoopFuture<Void>!

    func handlerAdded(context: ChannelHandlerContext) {
        let p = context.eventLoop.makePromise(of: Void.self)
        promise = p
        hungUp = p.futureResult
    }

    func handlerRemoved(context: ChannelHandlerContext) { promise?.succeed() }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) { context.fireChannelRead(data) }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { promise?.succeed() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise?.succeed()
        context.fireChannelInactive()
    }
}
