// Compile-only declarations of the Kotlin DSL's extension functions (package org.gradle.kotlin.dsl),
// which Gradle's API jar does not hold: the signatures the build scripts call, bodies TODO(). Only
// what our scripts use, grouped by the Kotlin DSL source file that declares each.
@file:Suppress("unused", "UNUSED_PARAMETER", "UnusedReceiverParameter", "NOTHING_TO_INLINE", "EXTENSION_SHADOWED_BY_MEMBER")
package org.gradle.kotlin.dsl

import org.gradle.api.Action
import org.gradle.api.DomainObjectCollection
import org.gradle.api.NamedDomainObjectCollection
import org.gradle.api.NamedDomainObjectProvider
import org.gradle.api.PolymorphicDomainObjectContainer
import org.gradle.api.Project
import org.gradle.api.Task
import org.gradle.api.artifacts.Dependency
import org.gradle.api.artifacts.ExternalModuleDependency
import org.gradle.api.artifacts.ModuleDependency
import org.gradle.api.artifacts.dsl.DependencyHandler
import org.gradle.api.artifacts.dsl.RepositoryHandler
import org.gradle.api.file.FileSystemLocation
import org.gradle.api.file.FileSystemLocationProperty
import org.gradle.api.provider.HasMultipleValues
import org.gradle.api.provider.MapProperty
import org.gradle.api.provider.Property
import org.gradle.api.provider.Provider
import org.gradle.api.tasks.TaskCollection
import org.gradle.api.tasks.TaskContainer
import org.gradle.api.tasks.TaskProvider
import java.io.File
import kotlin.reflect.KClass

// --- TaskContainerExtensions.kt -------------------------------------------------------------
inline fun <reified T : Task> TaskCollection<out Task>.named(name: String): TaskProvider<T> = TODO()
fun <T : Task> TaskCollection<out Task>.named(name: String, type: KClass<T>): TaskProvider<T> = TODO()
fun <T : Task> TaskCollection<out Task>.named(name: String, type: KClass<T>, configuration: T.() -> Unit): TaskProvider<T> = TODO()
inline fun <reified T : Task> TaskCollection<out Task>.named(name: String, noinline configuration: T.() -> Unit): TaskProvider<T> = TODO()
inline fun <reified T : Task> TaskContainer.register(name: String): TaskProvider<T> = TODO()
inline fun <reified T : Task> TaskContainer.register(name: String, noinline configuration: T.() -> Unit): TaskProvider<T> = TODO()
inline fun <reified T : Task> TaskContainer.register(name: String, vararg arguments: Any): TaskProvider<T> = TODO()
inline fun <reified T : Task> TaskContainer.create(name: String, vararg arguments: Any): T = TODO()

// --- TaskCollectionExtensions.kt ------------------------------------------------------------
inline fun <reified S : Task> TaskCollection<in S>.withType(): TaskCollection<S> = TODO()

// --- DomainObjectCollectionExtensions.kt ----------------------------------------------------
inline fun <reified S : Any> DomainObjectCollection<in S>.withType(noinline configuration: S.() -> Unit): DomainObjectCollection<S> = TODO()
inline fun <reified S : Any> DomainObjectCollection<in S>.withType(): DomainObjectCollection<S> = TODO()

// --- NamedDomainObjectCollectionExtensions.kt -----------------------------------------------
inline fun <reified S : Any> NamedDomainObjectCollection<in S>.withType(): NamedDomainObjectCollection<S> = TODO()
inline fun <reified T : Any> NamedDomainObjectCollection<out Any>.named(name: String): NamedDomainObjectProvider<T> = TODO()
fun <T : Any> NamedDomainObjectCollection<out Any>.named(name: String, type: KClass<T>): NamedDomainObjectProvider<T> = TODO()
inline fun <reified T : Any> NamedDomainObjectCollection<out Any>.named(name: String, noinline configuration: T.() -> Unit): NamedDomainObjectProvider<T> = TODO()
fun <T : Any> NamedDomainObjectCollection<out Any>.named(name: String, type: KClass<T>, configuration: T.() -> Unit): NamedDomainObjectProvider<T> = TODO()
inline fun <reified T : Any> NamedDomainObjectCollection<out Any>.getByName(name: String): T = TODO()
inline fun <reified T : Any> NamedDomainObjectCollection<out Any>.getByName(name: String, configure: T.() -> Unit): T = TODO()
operator fun <T : Any> NamedDomainObjectCollection<T>.get(name: String): T = TODO()

// --- NamedDomainObjectProviderExtensions.kt -------------------------------------------------
operator fun <T : Any> NamedDomainObjectProvider<T>.invoke(action: T.() -> Unit): Unit = TODO()

// --- PolymorphicDomainObjectContainerExtensions.kt ------------------------------------------
inline fun <reified T : Any> PolymorphicDomainObjectContainer<in T>.register(name: String): NamedDomainObjectProvider<T> = TODO()
inline fun <reified T : Any> PolymorphicDomainObjectContainer<in T>.register(name: String, noinline configuration: T.() -> Unit): NamedDomainObjectProvider<T> = TODO()
inline fun <reified U : Any> PolymorphicDomainObjectContainer<in U>.create(name: String, noinline configuration: U.() -> Unit): U = TODO()
inline fun <reified U : Any> PolymorphicDomainObjectContainer<in U>.create(name: String): U = TODO()
inline fun <reified U : Any> PolymorphicDomainObjectContainer<in U>.maybeCreate(name: String): U = TODO()

// --- DependencyHandlerScope.kt (the real class extends DependencyHandlerDelegate : DependencyHandler)
abstract class DependencyHandlerScope : DependencyHandler {
    val dependencies: DependencyHandler get() = TODO()
    operator fun String.invoke(dependencyNotation: Any): Dependency? = TODO()
    inline operator fun String.invoke(dependencyNotation: String, dependencyConfiguration: ExternalModuleDependency.() -> Unit): ExternalModuleDependency = TODO()
    operator fun String.invoke(group: String, name: String, version: String? = null, configuration: String? = null, classifier: String? = null, ext: String? = null): ExternalModuleDependency = TODO()
    inline operator fun <T : ModuleDependency> String.invoke(dependency: T, dependencyConfiguration: T.() -> Unit): T = TODO()
    operator fun <T : Any> String.invoke(dependency: Provider<T>) { TODO() }
}

// --- ProjectExtensions.kt -------------------------------------------------------------------
fun Project.repositories(configuration: RepositoryHandler.() -> Unit): Unit = TODO()
fun Project.dependencies(configuration: DependencyHandlerScope.() -> Unit): Unit = TODO()
inline fun <reified T : Any> Project.the(): T = TODO()
fun <T : Any> Project.the(extensionType: KClass<T>): T = TODO()
inline fun <reified T : Any> Project.configure(noinline configuration: T.() -> Unit): Unit = TODO()

// --- PropertyExtensions.kt (targets of the kotlin-assignment plugin, `prop = value`) ---------
fun <T> Property<T>.assign(value: T?): Unit = TODO()
fun <T> Property<T>.assign(value: Provider<out T?>): Unit = TODO()
fun <T : FileSystemLocation> FileSystemLocationProperty<T>.assign(file: File?): Unit = TODO()
fun <T : FileSystemLocation> FileSystemLocationProperty<T>.assign(provider: Provider<File?>): Unit = TODO()
fun <T> HasMultipleValues<T>.assign(elements: Iterable<T?>?): Unit = TODO()
fun <T> HasMultipleValues<T>.assign(provider: Provider<out Iterable<T?>?>): Unit = TODO()
fun <K, V> MapProperty<K, V>.assign(entries: Map<out K?, V?>?): Unit = TODO()
fun <K, V> MapProperty<K, V>.assign(provider: Provider<out Map<out K?, V?>?>): Unit = TODO()
operator fun <T : Any> HasMultipleValues<T>.plusAssign(element: T): Unit = TODO()
@JvmName("plusAssignElementProvider") operator fun <T : Any> HasMultipleValues<T>.plusAssign(provider: Provider<out T>): Unit = TODO()
operator fun <T : Any> HasMultipleValues<T>.plusAssign(elements: Iterable<T>): Unit = TODO()
@JvmName("plusAssignElementsProvider") operator fun <T : Any> HasMultipleValues<T>.plusAssign(provider: Provider<out Iterable<T>>): Unit = TODO()
