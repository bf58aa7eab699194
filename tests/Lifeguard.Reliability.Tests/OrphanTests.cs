using System.Diagnostics;
using System.Runtime.InteropServices;
using Lifeguard.Python;
using Lifeguard.Testing;

namespace Lifeguard.Reliability.Tests;

/// <summary>
/// A worker never outlives its host. The host runs as a child process of the test; the test makes itself a child
/// subreaper, so workers orphaned by the host's death become its children and it reaps them itself: a zombie is never
/// mistaken for a survivor, nor the reverse, and nothing is left behind. With a fork server, its template and the
/// workers it forked die too.
/// </summary>
public sealed partial class OrphanTests : ReliabilityTestBase
{
    private const int PrSetChildSubreaper = 36;
    private const int WNoHang = 1;

    [Theory]
    [InlineData("idle", PythonStartMode.Spawn)]
    [InlineData("busy", PythonStartMode.Spawn)]
    [InlineData("idle", PythonStartMode.ForkServer)]
    [InlineData("busy", PythonStartMode.ForkServer)]
    public async Task HostKilled_EveryWorkerDiesWithinTwoSeconds(string mode, PythonStartMode startMode)
    {
        Assert.Equal(0, Prctl(PrSetChildSubreaper, 1, 0, 0, 0));
        var info = new ProcessStartInfo(Environment.ProcessPath ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Lifeguard.Python.TestHost.dll"));
        info.ArgumentList.Add(PythonPath);
        info.ArgumentList.Add("3");
        info.ArgumentList.Add(mode);
        info.ArgumentList.Add(startMode.ToString());
        using var host = Process.Start(info)!;
        var pids = new List<int>();
        try
        {
            using var ready = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            while (await host.StandardOutput.ReadLineAsync(ready.Token) is { } line && line != "ready")
            {
                if (line.StartsWith("pids ", StringComparison.Ordinal))
                {
                    pids.AddRange(line[5..].Split(' ').Select(int.Parse));
                }
            }

            Assert.Equal(3, pids.Count);
            if (startMode == PythonStartMode.ForkServer)
            {
                // Forked: the workers' parent is the pool's one template, which must die with the host as well.
                var templates = pids.Select(p => ProcFs.ParentOf(p) ?? 0).Distinct().ToList();
                Assert.True(templates is [var template] && template != host.Id && template != 0, "forked by one template: " + string.Join(", ", templates));
                pids.Add(templates[0]);
            }

            Assert.All(pids, pid => Assert.True(ProcessExists(pid), $"worker {pid} runs before the host dies"));

            host.Kill(); // SIGKILL, to the host alone
            await host.WaitForExitAsync();
            var deadline = Environment.TickCount64 + 2000;
            var alive = pids.ToHashSet();
            while (alive.Count > 0 && Environment.TickCount64 < deadline)
            {
                alive.RemoveWhere(IsGone);
                await Task.Delay(20);
            }

            Assert.True(alive.Count == 0, $"workers still running 2 s after their host was killed: {string.Join(", ", alive)}");
        }
        finally
        {
            if (!host.HasExited)
            {
                host.Kill();
            }

            foreach (var pid in pids.Where(p => !IsGone(p)))
            {
                // Clean up by the pid we hold, so a failure leaves nothing behind.
                Kill(pid, 9);
                IsGone(pid);
            }
        }
    }

    /// <summary>Reaps the process if it is our (adopted) child and has exited; otherwise asks /proc.</summary>
    private static bool IsGone(int pid)
    {
        int reaped = WaitPid(pid, out _, WNoHang);
        if (reaped == pid)
        {
            return true;
        }

        return reaped == 0 ? false : !ProcessExists(pid);
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", EntryPoint = "waitpid", SetLastError = true)]
    private static partial int WaitPid(int pid, out int status, int options);

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
