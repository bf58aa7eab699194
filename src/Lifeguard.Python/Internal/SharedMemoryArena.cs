using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Lifeguard.Python;

/// <summary>
/// One worker's shared memory (docs/protocol.md, "Shared memory"): two segments the host creates, each a
/// <c>memfd</c> sealed against shrinking and growing, so that nothing the worker does can change the size of what the
/// host maps. Slot 0 carries a call's large arguments to the worker; slot 1 a reply's large values back. Both are
/// kept from call to call (their pages stay mapped on both sides), replaced only by a larger one, or, for slot 0, when
/// the worker says Python code kept a view of it. The host maps slot 1 read-only and never maps anything a worker
/// names: a reference is an offset and a length into one of this worker's own two segments, checked against its
/// sealed size, and the bytes read out of one reply never pass what its frame may still hold. Not thread-safe: it
/// belongs to the call in progress (the worker's invariant 1).
/// </summary>
internal sealed class SharedMemoryArena : IDisposable
{
    public const int CallSlot = 0;
    public const int ReplySlot = 1;
    private const int Alignment = 64;
    private readonly int _maxFrameSize;
    private readonly List<(long Offset, ReadOnlyMemory<byte> Data)> _staged = [];
    private readonly Segment?[] _slots = new Segment?[2];
    private long _stagedEnd;
    private long _readBudget;
    private bool _retireCall;
    private bool _granted;

    public SharedMemoryArena(int threshold, int maxFrameSize)
    {
        Threshold = threshold;
        _maxFrameSize = maxFrameSize;
    }

    /// <summary>The size from which bytes go through shared memory.</summary>
    public int Threshold { get; }

    /// <summary>How many segments are mapped now (0 to 2).</summary>
    public int Segments => (_slots[CallSlot] is null ? 0 : 1) + (_slots[ReplySlot] is null ? 0 : 1);

    /// <summary>The bytes of the segments mapped now.</summary>
    public long MappedBytes => (_slots[CallSlot]?.Size ?? 0) + (_slots[ReplySlot]?.Size ?? 0);

    /// <summary>Whether shared memory can be used on this system: Linux, where <c>memfd_create</c> and seals exist.</summary>
    public static bool IsSupported => OperatingSystem.IsLinux();

    /// <summary>Forgets what a call being written staged (a call that failed to serialise, or the start of the next).</summary>
    public void ResetStaging()
    {
        _staged.Clear();
        _stagedEnd = 0;
    }

    /// <summary>
    /// Stages an argument for slot 0 and returns its offset there; nothing is copied until <see cref="Commit"/>, when
    /// the whole call is known. The data must stay unchanged until then (the caller's array, during the call's write).
    /// </summary>
    /// <exception cref="FrameTooLargeException">The call's shared bytes would pass the maximum frame size.</exception>
    public long Stage(ReadOnlyMemory<byte> data)
    {
        long offset = (_stagedEnd + Alignment - 1) & ~(long)(Alignment - 1);
        if (offset + data.Length > _maxFrameSize)
        {
            throw new FrameTooLargeException();
        }

        _staged.Add((offset, data));
        _stagedEnd = offset + data.Length;
        return offset;
    }

    /// <summary>
    /// Copies the staged arguments into slot 0, replacing its segment by a larger one when it is too small. Returns
    /// the segment frame the worker must read before the call (a new segment), or <see langword="null"/>.
    /// </summary>
    /// <param name="frameBytes">The size of the call frame, which the shared bytes share the maximum with.</param>
    /// <exception cref="FrameTooLargeException">The frame and its shared bytes pass the maximum frame size.</exception>
    public byte[]? Commit(long frameBytes)
    {
        if (_staged.Count == 0)
        {
            return null;
        }

        try
        {
            if (frameBytes + _stagedEnd > _maxFrameSize)
            {
                throw new FrameTooLargeException();
            }

            var segment = _slots[CallSlot];
            if (segment is null || segment.Size < _stagedEnd)
            {
                segment?.Dispose();
                _slots[CallSlot] = null;
                segment = _slots[CallSlot] = Segment.Create(SizeFor(_stagedEnd), writable: true);
            }

            foreach (var (offset, data) in _staged)
            {
                data.Span.CopyTo(segment.Span(offset, data.Length));
            }

            // Named again with every call until a call frame carrying the name was written (MarkSent): a call
            // cancelled before it was sent leaves the worker not knowing the segment.
            return segment.Sent ? null : SegmentFrame(CallSlot, segment, withFd: true);
        }
        finally
        {
            ResetStaging();
        }
    }

    /// <summary>The call frame, and the segment frame before it, were written: the worker knows slot 0's segment.</summary>
    public void MarkSent()
    {
        if (_slots[CallSlot] is { } segment)
        {
            segment.Sent = true;
        }
    }

    /// <summary>
    /// Answers the worker's request for room for a reply of <paramref name="size"/> shared bytes: slot 1, replaced by a
    /// larger segment when it is too small. One request per call; the room never passes the maximum frame size.
    /// </summary>
    /// <exception cref="PythonProtocolException">A second request in one call, or a size outside 1 to the maximum frame size.</exception>
    public byte[] Grant(long size)
    {
        if (_granted)
        {
            throw new PythonProtocolException("The worker asked for shared memory twice in one call.");
        }

        if (size < 1 || size > _maxFrameSize)
        {
            throw new PythonProtocolException(
                $"The worker asked for {size} bytes of shared memory; a reply's shared bytes are 1 to {_maxFrameSize} bytes (MaxFrameSize).");
        }

        _granted = true;
        var segment = _slots[ReplySlot];
        if (segment is not null && segment.Size >= size)
        {
            return SegmentFrame(ReplySlot, segment, withFd: false);
        }

        segment?.Dispose();
        _slots[ReplySlot] = null;
        segment = _slots[ReplySlot] = Segment.Create(SizeFor(size), writable: false);
        return SegmentFrame(ReplySlot, segment, withFd: true);
    }

    /// <summary>Python code kept a view of slot 0 past its call: the segment is the view's now, dropped after the call.</summary>
    /// <exception cref="PythonProtocolException">Another slot: only slot 0 is handed to Python code.</exception>
    public void Retire(int slot)
    {
        if (slot != CallSlot)
        {
            throw new PythonProtocolException($"The worker retired shared memory slot {slot}; only slot {CallSlot} is handed to Python code.");
        }

        _retireCall = true;
    }

    /// <summary>Begins reading a reply frame of <paramref name="frameBytes"/>: its shared bytes may fill the rest of the maximum frame size.</summary>
    public void BeginRead(long frameBytes) => _readBudget = _maxFrameSize - frameBytes;

    /// <summary>
    /// A copy of <paramref name="length"/> bytes at <paramref name="offset"/> in <paramref name="slot"/>, checked against
    /// the segment's sealed size and what the reply may still read.
    /// </summary>
    /// <exception cref="PythonProtocolException">The reference is outside this worker's segments or over the budget.</exception>
    public byte[] Copy(long slot, long offset, long length)
    {
        var segment = slot is CallSlot or ReplySlot ? _slots[slot] : null;
        if (segment is null)
        {
            throw new PythonProtocolException($"A {{\"$shm\": [{slot}, {offset}, {length}]}} reference names no shared memory segment of this worker.");
        }

        if (offset < 0 || length < 0 || offset > segment.Size - length)
        {
            throw new PythonProtocolException(
                $"A {{\"$shm\": [{slot}, {offset}, {length}]}} reference overruns its segment of {segment.Size} bytes.");
        }

        if (length > _readBudget)
        {
            throw new PythonProtocolException(
                $"A reply's shared bytes pass the maximum frame size of {_maxFrameSize} bytes (MaxFrameSize) with its frame.");
        }

        _readBudget -= length;
        var bytes = GC.AllocateUninitializedArray<byte>((int)length);
        segment.Span(offset, (int)length).CopyTo(bytes);
        return bytes;
    }

    /// <summary>
    /// Ends a call, whatever its outcome (a reply, a timeout, a cancellation, a death): what it staged is forgotten,
    /// and slot 0 is dropped if Python code kept a view of it. What the segments hold belongs to no call any more;
    /// the next call overwrites what it uses.
    /// </summary>
    public void EndCall()
    {
        ResetStaging();
        _granted = false;
        _readBudget = 0;
        if (_retireCall)
        {
            _retireCall = false;
            _slots[CallSlot]?.Dispose();
            _slots[CallSlot] = null;
        }
    }

    /// <summary>Unmaps and closes both segments.</summary>
    public void Dispose()
    {
        ResetStaging();
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i]?.Dispose();
            _slots[i] = null;
        }
    }

    /// <summary>A power of two from the threshold up, at most the maximum frame size (page-rounded): never less than <paramref name="size"/>.</summary>
    private long SizeFor(long size)
    {
        long page = Environment.SystemPageSize;
        long cap = (_maxFrameSize + page - 1) / page * page;
        long rounded = Math.Max((long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)Math.Max(size, Threshold)), page);
        return Math.Max(Math.Min(rounded, cap), size);
    }

    private static byte[] SegmentFrame(int slot, Segment segment, bool withFd)
    {
        string json = withFd
            ? string.Create(CultureInfo.InvariantCulture, $"{{\"slot\":{slot},\"size\":{segment.Size},\"fd\":{segment.Fd}}}")
            : string.Create(CultureInfo.InvariantCulture, $"{{\"slot\":{slot},\"size\":{segment.Size}}}");
        return FrameReader.Compose(FrameKind.Segment, Encoding.UTF8.GetBytes(json), []);
    }

    /// <summary>One sealed <c>memfd</c> and the host's mapping of it.</summary>
    private sealed class Segment : IDisposable
    {
        private readonly SafeFileHandle _handle;
        private nint _address;

        private Segment(SafeFileHandle handle, nint address, long size)
        {
            _handle = handle;
            _address = address;
            Size = size;
        }

        public long Size { get; }

        /// <summary>Whether the worker was told of this segment.</summary>
        public bool Sent { get; set; }

        public int Fd => (int)_handle.DangerousGetHandle();

        /// <summary>
        /// Creates a segment of <paramref name="size"/> bytes: sized, then sealed (no shrinking, no growing, no further
        /// seals) before it is mapped, so its size is fixed for anyone who ever opens it.
        /// </summary>
        /// <exception cref="IOException">The system refused (no memory, no descriptors).</exception>
        public static Segment Create(long size, bool writable)
        {
            int fd = NativeMethods.MemfdCreate("lifeguard-shm", NativeMethods.MFD_CLOEXEC | NativeMethods.MFD_ALLOW_SEALING);
            if (fd < 0)
            {
                throw Failed("memfd_create");
            }

            var handle = new SafeFileHandle(fd, ownsHandle: true);
            try
            {
                if (NativeMethods.Ftruncate(fd, size) != 0)
                {
                    throw Failed("ftruncate");
                }

                if (NativeMethods.Fcntl(fd, NativeMethods.F_ADD_SEALS, NativeMethods.F_SEAL_SHRINK | NativeMethods.F_SEAL_GROW | NativeMethods.F_SEAL_SEAL) != 0)
                {
                    throw Failed("fcntl(F_ADD_SEALS)");
                }

                int protection = writable ? NativeMethods.PROT_READ | NativeMethods.PROT_WRITE : NativeMethods.PROT_READ;
                nint address = NativeMethods.Mmap(0, (nuint)size, protection, NativeMethods.MAP_SHARED, fd, 0);
                if (address == NativeMethods.MapFailed)
                {
                    throw Failed("mmap");
                }

                return new Segment(handle, address, size);
            }
            catch
            {
                handle.Dispose();
                throw;
            }
        }

        public unsafe Span<byte> Span(long offset, int length) => new((void*)(_address + (nint)offset), length);

        public void Dispose()
        {
            if (_address != 0)
            {
                _ = NativeMethods.Munmap(_address, (nuint)Size);
                _address = 0;
            }

            _handle.Dispose();
        }

        private static IOException Failed(string call)
            => new($"Shared memory could not be set up: {call} failed ({Marshal.GetLastPInvokeErrorMessage()}).");
    }
}
