namespace Lifeguard.Python;

/// <summary>Frame kinds of protocol version 1 (docs/protocol.md).</summary>
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
}
