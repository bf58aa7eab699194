using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Lifeguard.Python.Build.Internal;

/// <summary>
/// Runs lifeguard_bindings.py under python3 on a project's modules, once for all of them: an argv list, never a
/// shell; isolated mode (<c>-I</c>), so no <c>PYTHON*</c> variable or user site changes what it reads. Its output and
/// its error text are bounded, and a run past <see cref="Timeout"/> is killed. Stateless and thread-safe.
/// </summary>
internal static class PythonModuleReader
{
    /// <summary>Reading is quick (no import, no code run); a run this long is stuck.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>The most JSON the script may write: far more than any module's signatures.</summary>
    public const int MaxOutput = 64 * 1024 * 1024;

    /// <summary>The most error text kept, from its end.</summary>
    public const int MaxErrorText = 4096;

    /// <summary>Reads the modules; <see langword="null"/>, with <paramref name="failure"/> saying why, when python3 could not.</summary>
    public static PyReading? Read(string python, string script, IReadOnlyList<string> files, out string? failure)
    {
        var start = new ProcessStartInfo(python)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        start.ArgumentList.Add("-I");
        start.ArgumentList.Add(script);
        foreach (var file in files)
        {
            start.ArgumentList.Add(file);
        }

        using var process = new Process { StartInfo = start };
        var errors = new StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                return;
            }

            lock (errors)
            {
                errors.Append(e.Data).Append('\n');
                if (errors.Length > MaxErrorText)
                {
                    errors.Remove(0, errors.Length - MaxErrorText);
                }
            }
        };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            failure = $"'{python}' could not be started ({e.Message}). Set the LifeguardPython property to a python3, 3.9 or newer.";
            return null;
        }

        process.StandardInput.Close();
        process.BeginErrorReadLine();
        var timedOut = 0;
        using (var timer = new Timer(_ => Volatile.Write(ref timedOut, Kill(process) ? 1 : 0), null, Timeout, System.Threading.Timeout.InfiniteTimeSpan))
        {
            var output = ReadBounded(process.StandardOutput, out var tooLong);
            if (tooLong)
            {
                Kill(process);
            }

            process.WaitForExit();
            string tail;
            lock (errors)
            {
                tail = errors.ToString().Trim();
            }

            failure = Volatile.Read(ref timedOut) == 1 ? $"'{python}' did not read the modules within {Timeout.TotalSeconds:0} s."
                : tooLong ? $"'{python}' wrote more than {MaxOutput} characters."
                : process.ExitCode != 0 ? $"'{python}' failed (exit code {process.ExitCode}): {tail}"
                : null;
            if (failure is not null)
            {
                return null;
            }

            try
            {
                var reading = PyReading.Parse(output);
                if (reading.Error is not null)
                {
                    failure = $"'{python}': {reading.Error}. Set the LifeguardPython property to a python3, 3.9 or newer.";
                    return null;
                }

                return reading;
            }
            catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
            {
                failure = $"'{python}' wrote what is not the reader's JSON ({e.Message}). {tail}";
                return null;
            }
        }
    }

    private static string ReadBounded(StreamReader reader, out bool tooLong)
    {
        var text = new StringBuilder();
        var buffer = new char[16384];
        int read;
        while ((read = reader.Read(buffer, 0, buffer.Length)) > 0)
        {
            if (text.Length + read > MaxOutput)
            {
                tooLong = true;
                return "";
            }

            text.Append(buffer, 0, read);
        }

        tooLong = false;
        return text.ToString();
    }

    /// <summary>Kills the process this reader started (by the object it holds); true, for the timer's flag.</summary>
    private static bool Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It has exited already.
        }

        return true;
    }
}
