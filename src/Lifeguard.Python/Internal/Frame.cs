namespace Lifeguard.Python;

/// <summary>
/// One frame read from a worker. Its memory belongs to the <see cref="FrameReader"/> and is valid only until the next
/// read. Not thread-safe.
/// </summary>
internal readonly struct Frame(FrameKind kind, ulong id, ReadOnlyMemory<byte> json, ReadOnlyMemory<byte> attachments)
{
    public FrameKind Kind { get; } = kind;

    public ulong Id { get; } = id;

    public ReadOnlyMemory<byte> Json { get; } = json;

    /// <summary>The raw attachment section: repeated (u32 big-endian length, bytes).</summary>
    public ReadOnlyMemory<byte> Attachments { get; } = attachments;
}
