namespace Lifeguard.Python;

/// <summary>
/// Frame kinds of protocol version 2 (docs/protocol.md). New kinds go in their family's reserved range (docs/protocol.md,
/// "Reserved kinds"): 1–15 version 1 and small additions, 16–31 streams, 32–47 spans, 48–63 shared-memory references,
/// 64–79 health pings, 80–95 remote-pool envelopes.
/// </summary>
internal enum FrameKind : byte
{
    Init = 1,
    Hello = 2,
    Call = 3,
    Result = 4,
    Error = 5,
    Callback = 6,
    CallbackResult = 7,
    CallbackError = 8,

    /// <summary>One item of a streaming call (kinds 16–31: streams).</summary>
    Item = 16,

    /// <summary>The host lets a stream send more items: <c>{"n": k}</c>.</summary>
    Credit = 17,

    /// <summary>A stream's generator finished or was closed: <c>{"items": n, "closed": true?}</c>.</summary>
    StreamEnd = 18,

    /// <summary>The host stops consuming a stream: close its generator.</summary>
    Close = 19,

    /// <summary>Span data from Python, sent before the reply to a call that asked for it (kinds 32–47: spans).</summary>
    Spans = 32,

    /// <summary>
    /// The host names a shared-memory segment for a slot: <c>{"slot": s, "size": n, "fd": d?}</c>, before the call that
    /// uses it or in answer to a request (kinds 48–63: shared-memory payloads).
    /// </summary>
    Segment = 48,

    /// <summary>The worker asks for room for a reply's shared bytes: <c>{"size": n}</c>, with the call's id.</summary>
    SegmentRequest = 49,

    /// <summary>The worker says Python code kept a view of a segment past its call: <c>{"slot": 0}</c>, with the call's id.</summary>
    SegmentRetire = 50,

    /// <summary>The host asks a worker between calls whether it answers: <c>{}</c>, with the ping's own id (kinds 64–79: health pings).</summary>
    Ping = 64,

    /// <summary>The worker's answer to a ping: <c>{}</c>, with the ping's id.</summary>
    Pong = 65,

    /// <summary>The first kind of the remote-pool envelopes (80–95), which travel between a remote pool's callers and hosts only, never on a worker's pipe.</summary>
    RemoteFirst = 80,

    /// <summary>The last kind of the remote-pool envelopes.</summary>
    RemoteLast = 95,
}
