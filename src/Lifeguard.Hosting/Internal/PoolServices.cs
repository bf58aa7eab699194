using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Lifeguard.Hosting.Internal;

/// <summary>The registrations every pool gets, whatever its worker type. Stateless.</summary>
internal static class PoolServices
{
    public static string Section(string name) => "Lifeguard:Pools:" + name;

    /// <summary>Binds the named options from configuration, applies <paramref name="configure"/>, fills in the host's
    /// services, and validates them when the host starts.</summary>
    public static void AddOptions<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>(OptionsBuilder<TOptions> builder, Action<TOptions>? configure)
        where TOptions : PoolOptions
    {
        var name = builder.Name;
        builder.Configure<IServiceProvider>((options, services) =>
        {
            if (services.GetService<IConfiguration>() is { } configuration)
            {
                PoolOptionsBinder.Bind(configuration.GetSection(Section(name)), options);
            }
        });
        builder.Services.AddSingleton<IOptionsChangeTokenSource<TOptions>>(services => new ConfigurationChangeTokenSource<TOptions>(
            name, services.GetService<IConfiguration>() ?? new ConfigurationBuilder().Build()));
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        // Post-configure, so the name is the service key whatever the configuration says, and the host's services
        // fill only what neither the configuration nor the caller set.
        builder.PostConfigure<IServiceProvider>((options, services) =>
        {
            options.Name = name;
            options.LoggerFactory ??= services.GetService<ILoggerFactory>();
            options.MeterFactory ??= services.GetService<IMeterFactory>();
            if (ReferenceEquals(options.TimeProvider, TimeProvider.System) && services.GetService<TimeProvider>() is { } clock)
            {
                options.TimeProvider = clock;
            }
        });
        builder.ValidateOnStart();
        builder.Services.TryAddEnumerable(
            ServiceDescriptor.Singleton<IValidateOptions<TOptions>, PoolOptionsValidator<TOptions>>());
    }

    public static void AddPoolService<TPool>(IServiceCollection services, string name)
        where TPool : class, IPool
    {
        services.AddKeyedSingleton(name, (provider, _) => Resolve<TPool>(provider, name));
        services.AddKeyedSingleton(name, (provider, _) => Resolve<IPool>(provider, name));
    }

    public static TOptions GetOptions<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>(IServiceProvider services, string name)
        where TOptions : PoolOptions
        => services.GetRequiredService<IOptionsMonitor<TOptions>>().Get(name);

    /// <summary>Resizes <paramref name="pool"/> whenever its options change to other limits.</summary>
    public static IDisposable? WatchSize<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicParameterlessConstructor)] TOptions>(IServiceProvider services, IPool pool, ILogger logger)
        where TOptions : PoolOptions
        => services.GetRequiredService<IOptionsMonitor<TOptions>>().OnChange((options, name) =>
        {
            if (!string.Equals(name, pool.Name, StringComparison.Ordinal))
            {
                return;
            }

            var status = pool.GetStatus();
            if (status.State == PoolState.Stopped || (status.Size == options.Size && status.MaxOverflow == options.MaxOverflow))
            {
                return;
            }

            try
            {
                pool.Resize(options.Size, options.MaxOverflow, "configuration");
                HostingLog.Resized(logger, pool.Name, options.Size, options.MaxOverflow);
            }
            catch (ArgumentException e)
            {
                HostingLog.ResizeRejected(logger, e, pool.Name, options.Size, options.MaxOverflow);
            }
        });

    private static T Resolve<T>(IServiceProvider services, string name)
        where T : class, IPool
        => services.GetRequiredService<PoolRegistry>().TryGet(name, out var pool) && pool is T typed
            ? typed
            : throw new InvalidOperationException(
                $"The Lifeguard pool '{name}' is not running. Pools start when the host starts (IHost.StartAsync) "
                    + "and stop when it stops; resolve it in between.");
}
