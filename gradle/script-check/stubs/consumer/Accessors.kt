// Compile-only declarations of the type-safe accessors Gradle generates for examples/consumer (plugin application).
@file:Suppress("unused", "UNUSED_PARAMETER", "UnusedReceiverParameter")
package org.gradle.kotlin.dsl

import org.gradle.api.Action
import org.gradle.api.Project
import org.gradle.api.artifacts.Dependency
import org.gradle.api.artifacts.ExternalModuleDependency
import org.gradle.api.artifacts.dsl.DependencyHandler
import org.gradle.api.plugins.JavaApplication
import org.gradle.api.provider.Provider

val Project.application: JavaApplication get() = TODO()
fun Project.application(configure: Action<JavaApplication>): Unit = TODO()

fun DependencyHandler.implementation(dependencyNotation: Any): Dependency? = TODO()
fun DependencyHandler.implementation(dependencyNotation: String, dependencyConfiguration: Action<ExternalModuleDependency>): ExternalModuleDependency = TODO()
fun DependencyHandler.implementation(dependencyNotation: Provider<*>, dependencyConfiguration: Action<ExternalModuleDependency>): Unit = TODO()
