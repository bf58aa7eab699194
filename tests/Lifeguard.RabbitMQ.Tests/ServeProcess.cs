using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lifeguard.RabbitMQ.Tests;

/// <summary>
/// A <c>lifeguard serve</c> host as its own process (<c>dotnet Lifeguard.Cli.dll serve ...</c>), its broker URI in
/// LIFEGUARD_BROKER, never on the command line. Disposing kills it by its pid if it still runs.
/// </summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _lines = new();

    private ServeProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public string Output => string.Join('\n', _lines);

    public static async Task<ServeProcess> StartAsync(Uri broker, string pool, string hostName, IReadOnlyList<string> extra, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.Environment["LIFEGUARD_BROKER"] = broker.ToString();
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Lifeguard.Cli.dll"), "serve", Path.Combine(Cluster.FixturesPath, "cluster_fixtures.py"), "--pool", pool, "--host-name", hostName })
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var arg in extra)
        {
            info.ArgumentList.Add(arg);
        }

        var serve = new ServeProcess(Process.Start(info)!);
        serve._process.StandardInput.Close();
        try
        {
            while (!serve._lines.Any(l => l.StartsWith("serving pool", StringComparison.Ordinal)))
            {
                if (serve.HasExited)
                {
                    throw new InvalidOperationException($"lifeguard serve exited with {serve._process.ExitCode}: {serve.Output}");
                }

                await Task.Delay(20, cancellationToken);
            }
        }
        catch
        {
            serve.Dispose();
            throw;
        }

        return serve;
    }

    public void Kill() => _process.Kill();

    public async Task<int> WaitForExitAsync(CancellationToken cancellationToken)
    {
        await _process.WaitForExitAsync(cancellationToken);
        return _process.ExitCode;
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is not null)
        {
            _lines.Enqueue(line);
        }
    }
}
