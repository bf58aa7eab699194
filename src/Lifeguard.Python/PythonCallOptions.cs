namespace Lifeguard.Python;

/// <summary>
/// Options for one call. Every field is unset by default; where a field is unset, the pool's options apply.
/// One instance may be shared by many calls, concurrent ones too: each call copies it when it is made, so a change
/// made later applies to later calls only.
/// </summary>
/// <remarks>
/// On a leased <see cref="PythonWorker"/> only <see cref="CallTimeout"/> and <see cref="IncludeArgumentsInErrors"/>
/// apply: <see cref="CheckoutTimeout"/>, <see cref="MaxRetries"/> and <see cref="Idempotent"/> concern pool calls
/// (the checkout and the retries on another worker), and setting them for a worker's call throws
/// <see cref="ArgumentException"/>.
/// </remarks>
public sealed class PythonCallOptions
{
    /// <summary>
    /// This call's timeout, per attempt, in place of <see cref="PythonPoolOptions.CallTimeout"/>: past it the call is
    /// interrupted and fails with <see cref="PythonCallTimeoutException"/>. Positive or <see cref="Timeout.InfiniteTimeSpan"/>.
    /// </summary>
    public TimeSpan? CallTimeout { get; set; }

    /// <summary>
    /// How long this call waits for a worker, in place of <see cref="PoolOptions.CheckoutTimeout"/>: zero never
    /// waits, <see cref="Timeout.InfiniteTimeSpan"/> waits forever. Pool calls only.
    /// </summary>
    public TimeSpan? CheckoutTimeout { get; set; }

    /// <summary>
    /// This call's extra attempts on another worker after a crash or a timeout, in place of
    /// <see cref="PythonPoolOptions.MaxRetries"/>; at least 0. More than 0 declares the call idempotent, so it
    /// cannot be combined with <see cref="Idempotent"/> = <see langword="false"/>. Pool calls only.
    /// </summary>
    public int? MaxRetries { get; set; }

    /// <summary>
    /// Whether the call may run more than once. Retries happen only for idempotent calls: <see langword="false"/>
    /// means no retry, whatever <see cref="PythonPoolOptions.MaxRetries"/> says; <see langword="true"/> or unset
    /// leaves the number of retries to <see cref="MaxRetries"/>, or else to the pool's
    /// <see cref="PythonPoolOptions.MaxRetries"/>. Pool calls only.
    /// </summary>
    public bool? Idempotent { get; set; }

    /// <summary>
    /// Whether a <see cref="PythonException"/>'s message shows this call's arguments, in place of
    /// <see cref="PythonPoolOptions.IncludeArgumentsInErrors"/>.
    /// </summary>
    public bool? IncludeArgumentsInErrors { get; set; }

    /// <summary>
    /// How many items this stream's generator may run ahead of its consumer, in place of
    /// <see cref="PythonPoolOptions.StreamWindow"/>; from 1 to 65536. Streams only; a call ignores it.
    /// </summary>
    public int? StreamWindow { get; set; }

    /// <summary>The largest stream window, on either options.</summary>
    internal const int MaxStreamWindow = 65536;

    /// <summary>A copy taken when a call is made, which the call then checks and uses, whatever happens to this one.</summary>
    internal PythonCallOptions Copy() => (PythonCallOptions)MemberwiseClone();

    /// <summary>The number of retries a pool call gets, given the pool's own <paramref name="poolMaxRetries"/>.</summary>
    internal int RetriesFor(int poolMaxRetries) => MaxRetries ?? (Idempotent == false ? 0 : poolMaxRetries);

    /// <summary>Checks the options of a pool call, before its checkout; the exceptions name the field and the caller's <paramref name="paramName"/>.</summary>
    internal void ValidateForPool(string paramName)
    {
        ValidateCommon(paramName);
        if (CheckoutTimeout is { } checkout && checkout < TimeSpan.Zero && checkout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(
                paramName, checkout, "PythonCallOptions.CheckoutTimeout must be zero, positive or Timeout.InfiniteTimeSpan.");
        }

        if (MaxRetries is { } retries && retries < 0)
        {
            throw new ArgumentOutOfRangeException(paramName, retries, "PythonCallOptions.MaxRetries must be at least 0.");
        }

        if (Idempotent == false && MaxRetries > 0)
        {
            throw new ArgumentException(
                $"PythonCallOptions.Idempotent is false but PythonCallOptions.MaxRetries is {MaxRetries}: retries are for idempotent calls only.",
                paramName);
        }
    }

    /// <summary>Checks the options of a leased worker's call, which has no checkout and no retries.</summary>
    internal void ValidateForWorker(string paramName)
    {
        ValidateCommon(paramName);
        string? poolOnly = CheckoutTimeout is not null ? nameof(CheckoutTimeout)
            : MaxRetries is not null ? nameof(MaxRetries)
            : Idempotent is not null ? nameof(Idempotent)
            : null;
        if (poolOnly is not null)
        {
            throw new ArgumentException(
                $"PythonCallOptions.{poolOnly} applies to pool calls only (PythonPool.CallAsync), not to a leased worker's call.",
                paramName);
        }
    }

    private void ValidateCommon(string paramName)
    {
        if (StreamWindow is { } window && window is < 1 or > MaxStreamWindow)
        {
            throw new ArgumentOutOfRangeException(
                paramName, window, $"PythonCallOptions.StreamWindow must be from 1 to {MaxStreamWindow}.");
        }

        if (CallTimeout is { } timeout && timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(
                paramName, timeout, "PythonCallOptions.CallTimeout must be positive or Timeout.InfiniteTimeSpan.");
        }
    }
}
