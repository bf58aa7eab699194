namespace Lifeguard.Python;

/// <summary>
/// One line a Python worker wrote to its standard output or standard error, as given to
/// <see cref="PythonPoolOptions.OnOutput"/>. Immutable.
/// </summary>
public sealed class PythonOutputLine
{
    /// <summary>Creates a line, as the pool does for each one a worker writes (and a test of a handler may).</summary>
    /// <param name="poolName">The name of the worker's pool.</param>
    /// <param name="processId">The worker's process id.</param>
    /// <param name="text">The line, without its line break.</param>
    /// <exception cref="ArgumentNullException"><paramref name="poolName"/> or <paramref name="text"/> is <see langword="null"/>.</exception>
    public PythonOutputLine(string poolName, int processId, string text)
    {
        ArgumentNullException.ThrowIfNull(poolName);
        ArgumentNullException.ThrowIfNull(text);
        PoolName = poolName;
        ProcessId = processId;
        Text = text;
    }

    /// <summary>The name of the worker's pool.</summary>
    public string PoolName { get; }

    /// <summary>The worker's operating-system process id (<c>os.getpid()</c> inside it).</summary>
    public int ProcessId { get; }

    /// <summary>
    /// The line, without its line break or a trailing carriage return; a line longer than 8 KiB arrives as several
    /// pieces. Untrusted: whatever the worker wrote, control characters and escape sequences included.
    /// </summary>
    public string Text { get; }

    /// <inheritdoc />
    public override string ToString() => $"[pid {ProcessId}] {Text}";
}
