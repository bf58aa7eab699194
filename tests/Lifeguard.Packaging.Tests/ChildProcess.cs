using System.Diagnostics;
using System.Text;

namespace Lifeguard.Packaging.Tests;

/// <summary>What a finished child process printed and how it ended.</summary>
public sealed record ChildResult(string Command, int ExitCode, string Output, string Error)
{
    public override string ToString() => $"{Command}\nexit code {ExitCode}\n--- stdout\n{Output}\n--- stderr\n{Error}";
}

/// <summary>
/// Runs a program from an argument list (never a shell), with the environment given, and waits for it within a bound;
/// past the bound the whole process tree is killed by its pid and the call fails with what it printed so far.
/// Output is kept up to a bounded size (the tail beyond it is what a failure shows). Thread-safe: each call is its own.
/// </summary>
public static class ChildProcess
{
    private const int MaxKeptChars = 256 * 1024;

    public static async Task<ChildResult> RunAsync(
        string program, IEnumerable<string> args, string workingDirectory, IReadOnlyDictionary<string, string?> environment, TimeSpan timeout)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                info.Environment.Remove(name);
            }
            else
            {
                info.Environment[name] = value;
            }
        }

        var command = string.Join(' ', [program, .. info.ArgumentList]);
        var output = new BoundedText();
        var error = new BoundedText();
        using var process = new Process { StartInfo = info };
        process.OutputDataReceived += (_, e) => output.AppendLine(e.Data);
        process.ErrorDataReceived += (_, e) => error.AppendLine(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException e)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            throw new TimeoutException(
                $"{command} did not finish within {timeout.TotalMinutes:0.#} min and was killed\n--- stdout\n{output}\n--- stderr\n{error}", e);
        }

        // The parameterless wait returns once both redirected streams reached their end.
        process.WaitForExit();
        return new ChildResult(command, process.ExitCode, output.ToString(), error.ToString());
    }

    /// <summary>Text kept to <see cref="MaxKeptChars"/>, dropping the oldest lines. Thread-safe.</summary>
    private sealed class BoundedText
    {
        private readonly Queue<string> _lines = new();
        private readonly Lock _lock = new();
        private int _chars;

        public void AppendLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_lock)
            {
                _lines.Enqueue(line);
                _chars += line.Length + 1;
                while (_chars > MaxKeptChars && _lines.Count > 1)
                {
                    _chars -= _lines.Dequeue().Length + 1;
                }
            }
        }

        public override string ToString()
        {
            lock (_lock)
            {
                var text = new StringBuilder(_chars);
                foreach (var line in _lines)
                {
                    text.Append(line).Append('\n');
                }

                return text.ToString();
            }
        }
    }
}
