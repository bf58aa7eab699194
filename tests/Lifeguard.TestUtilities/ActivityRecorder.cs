using System.Collections.Concurrent;
using System.Diagnostics;

namespace Lifeguard.Testing;

/// <summary>
/// Records the spans of the <c>Lifeguard</c> source that belong to one test: it starts the test's own root activity
/// (<see cref="Root"/>, current until disposed) and samples only that trace, so spans of other tests running at the
/// same time are neither recorded here nor made any costlier than a declined sample. Thread-safe.
/// </summary>
public sealed class ActivityRecorder : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _stopped = new();

    public ActivityRecorder(string rootName = "test")
    {
        Root = new Activity(rootName).SetIdFormat(ActivityIdFormat.W3C).Start();
        var traceId = Root.TraceId;
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Lifeguard",
            Sample = (ref ActivityCreationOptions<ActivityContext> options)
                => options.Parent.TraceId == traceId ? ActivitySamplingResult.AllDataAndRecorded : ActivitySamplingResult.None,
            ActivityStopped = activity =>
            {
                if (activity.TraceId == traceId)
                {
                    _stopped.Enqueue(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The test's root activity: every span recorded here descends from it.</summary>
    public Activity Root { get; }

    /// <summary>The spans of this test's trace that have ended, in the order they ended.</summary>
    public IReadOnlyList<Activity> Stopped => [.. _stopped];

    /// <summary>The ended spans named <paramref name="name"/>.</summary>
    public IReadOnlyList<Activity> Named(string name) => [.. _stopped.Where(a => a.OperationName == name)];

    /// <summary>The one ended span named <paramref name="name"/>; fails unless there is exactly one.</summary>
    public Activity Single(string name)
    {
        var found = Named(name);
        return found.Count == 1
            ? found[0]
            : throw new InvalidOperationException($"expected one span named '{name}', found {found.Count}: {string.Join(", ", _stopped.Select(a => a.OperationName))}");
    }

    public void Dispose()
    {
        _listener.Dispose();
        Root.Dispose();
    }
}
