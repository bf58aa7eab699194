using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Lifeguard;

/// <summary>
/// Where a lease was taken, for leak warnings: the caller's stack as captured at checkout, shown from the first frame
/// outside this assembly. Immutable, so thread-safe.
/// </summary>
/// <remarks>
/// The pool's own frames are dropped by assembly, not by count: a Release build inlines the small forwarding overloads
/// (<c>CheckoutAsync()</c> into <c>CheckoutAsync(TimeSpan)</c> into the core) once they are hot, so a fixed number of
/// frames to skip would cut into the caller's frames on one run and not on another. Formatting waits until a warning is
/// logged: capture is the only cost a checkout pays.
/// </remarks>
internal sealed class CheckoutStack
{
    private static readonly string? PoolAssembly = typeof(CheckoutStack).Assembly.FullName;

    private readonly StackTrace _trace;

    private CheckoutStack(StackTrace trace) => _trace = trace;

    /// <summary>Captures the current stack (the frame of this method excluded).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static CheckoutStack Capture() => new(new StackTrace(1, fNeedFileInfo: true));

    /// <summary>The stack from the first frame that is not the pool's own, in <see cref="StackTrace.ToString"/>'s format.</summary>
    public override string ToString()
    {
        var frames = _trace.GetFrames();
        int first = 0;
        while (first < frames.Length && IsPoolFrame(frames[first]))
        {
            first++;
        }

        // A stack of nothing but pool frames (a checkout started by the pool itself) is shown whole.
        return first == frames.Length ? _trace.ToString() : new StackTrace(frames[first..]).ToString();
    }

    private static bool IsPoolFrame(StackFrame frame)
        => DiagnosticMethodInfo.Create(frame) is { } method && string.Equals(method.DeclaringAssemblyName, PoolAssembly, StringComparison.Ordinal);
}
