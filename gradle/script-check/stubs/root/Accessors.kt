// Compile-only declarations of the type-safe accessors Gradle generates for the root project
// (plugins java-library + maven-publish), in the shapes AccessorFragments.kt emits.
@file:Suppress("unused", "UNUSED_PARAMETER", "UnusedReceiverParameter")
package org.gradle.kotlin.dsl

import org.gradle.api.Action
import org.gradle.api.DefaultTask
import org.gradle.api.NamedDomainObjectProvider
import org.gradle.api.Project
import org.gradle.api.artifacts.Dependency
import org.gradle.api.artifacts.ExternalModuleDependency
import org.gradle.api.artifacts.dsl.DependencyHandler
import org.gradle.api.plugins.JavaPluginExtension
import org.gradle.api.provider.Provider
import org.gradle.api.publish.PublishingExtension
import org.gradle.api.tasks.SourceSet
import org.gradle.api.tasks.SourceSetContainer
import org.gradle.api.tasks.TaskContainer
import org.gradle.api.tasks.TaskProvider
import org.gradle.api.tasks.bundling.Jar
import org.gradle.api.tasks.javadoc.Javadoc
import org.gradle.api.tasks.testing.Test
import org.gradle.jvm.toolchain.JavaToolchainService

// extensions: `val Project.x: T` + `fun Project.x(configure: Action<T>)`
val Project.sourceSets: SourceSetContainer get() = TODO()
fun Project.sourceSets(configure: Action<SourceSetContainer>): Unit = TODO()
val Project.java: JavaPluginExtension get() = TODO()
fun Project.java(configure: Action<JavaPluginExtension>): Unit = TODO()
val Project.javaToolchains: JavaToolchainService get() = TODO()
fun Project.javaToolchains(configure: Action<JavaToolchainService>): Unit = TODO()
val Project.publishing: PublishingExtension get() = TODO()
fun Project.publishing(configure: Action<PublishingExtension>): Unit = TODO()

// container elements
val SourceSetContainer.main: NamedDomainObjectProvider<SourceSet> get() = TODO()
val SourceSetContainer.test: NamedDomainObjectProvider<SourceSet> get() = TODO()

// tasks (type = the task's public type as registered by the plugin)
val TaskContainer.test: TaskProvider<Test> get() = TODO()
val TaskContainer.jar: TaskProvider<Jar> get() = TODO()
val TaskContainer.javadoc: TaskProvider<Javadoc> get() = TODO()
val TaskContainer.check: TaskProvider<DefaultTask> get() = TODO()

// configurations (only the ones the script uses), all accessor overloads of fragmentsForConfiguration
fun DependencyHandler.testImplementation(dependencyNotation: Any): Dependency? = TODO()
fun DependencyHandler.testImplementation(dependencyNotation: String, dependencyConfiguration: Action<ExternalModuleDependency>): ExternalModuleDependency = TODO()
fun DependencyHandler.testImplementation(dependencyNotation: Provider<*>, dependencyConfiguration: Action<ExternalModuleDependency>): Unit = TODO()
fun DependencyHandler.testRuntimeOnly(dependencyNotation: Any): Dependency? = TODO()
fun DependencyHandler.testRuntimeOnly(dependencyNotation: String, dependencyConfiguration: Action<ExternalModuleDependency>): ExternalModuleDependency = TODO()
fun DependencyHandler.testRuntimeOnly(dependencyNotation: Provider<*>, dependencyConfiguration: Action<ExternalModuleDependency>): Unit = TODO()
