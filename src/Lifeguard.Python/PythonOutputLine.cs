namespace Lifeguard.Python;

/// <summary>
/// One line a Python worker wrote to its standard output or standard error, as given to
/// <see cref="PythonPoolOptions.OnOutput"/>. Immutable.
/// </summary>
public sealed class PythonOutputLine
{
    internal PythonOutputLine(string poolName, int processId, string text)
    {
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
